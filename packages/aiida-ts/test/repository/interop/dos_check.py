"""Cross-check a container with aiidateam's disk-objectstore (run by hand; see README.md beside this file).

Usage:
  python3 dos_check.py read <container>            # print {key: sha256(content)} for every object, as JSON
  python3 dos_check.py write <container> <n>       # create a container with loose, packed and compressed objects
  python3 dos_check.py maintain <container>        # pack_all_loose + repack + clean_storage(vacuum=True)
"""

import hashlib
import json
import sys

from disk_objectstore import Container


def main() -> None:
    action, folder = sys.argv[1], sys.argv[2]
    with Container(folder) as container:
        if action == 'read':
            keys = list(container.list_all_objects())
            out = {}
            for key in keys:
                content = container.get_object_content(key)
                out[key] = hashlib.sha256(content).hexdigest()
            counts = container.count_objects()
            print(json.dumps({'objects': out, 'count': {'packed': counts.packed, 'loose': counts.loose,
                                                         'pack_files': counts.pack_files},
                              'container_id': container.container_id}))
            issues = container.validate()
            assert not any(issues.__dict__.values()), issues
        elif action == 'write':
            count = int(sys.argv[3])
            container.init_container(clear=True, pack_size_target=1000)
            loose = [container.add_object(f'loose-{i}'.encode() * (i + 1)) for i in range(count)]
            packed = container.add_objects_to_pack([f'packed-{i}'.encode() * 50 for i in range(count)], compress=False)
            compressed = container.add_objects_to_pack(
                [f'compressed-{i}'.encode() * 80 for i in range(count)], compress=True
            )
            container.add_object(b'')
            print(json.dumps({'loose': loose, 'packed': packed, 'compressed': compressed}))
        elif action == 'maintain':
            container.pack_all_loose(compress=True)
            container.repack()
            container.clean_storage(vacuum=True)
            print(json.dumps({'ok': True}))


if __name__ == '__main__':
    main()
