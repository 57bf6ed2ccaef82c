/// <reference lib="dom" />
/**
 * The 3D view of a StructureData (ball and stick, the unit cell as a box), drawn with three.js. A bundle of its own
 * (`/assets/structure.js`), loaded by the node view only when it shows a structure: three.js is most of its size, and
 * the process list should not wait for it.
 */
import {
  AmbientLight,
  BufferGeometry,
  Color,
  CylinderGeometry,
  DirectionalLight,
  Float32BufferAttribute,
  Group,
  InstancedMesh,
  LineBasicMaterial,
  LineSegments,
  Matrix4,
  MeshStandardMaterial,
  PerspectiveCamera,
  Quaternion,
  Scene,
  SphereGeometry,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

type Vec = readonly [number, number, number];

/** The attributes of a StructureData that the view reads (aiida-core's layout). */
export interface StructureAttributes {
  readonly cell?: readonly Vec[];
  readonly kinds?: readonly { readonly name: string; readonly symbols: readonly string[] }[];
  readonly sites?: readonly { readonly kind_name: string; readonly position: Vec }[];
  readonly pbc1?: boolean;
  readonly pbc2?: boolean;
  readonly pbc3?: boolean;
}

/** A mounted view; `dispose` frees its WebGL context (a page gets only a few). */
export interface StructureView {
  /** The elements drawn, with their colours (`#rrggbb`), for the legend. */
  readonly legend: readonly { readonly symbol: string; readonly color: string }[];
  dispose(): void;
}

// Jmol's colours and covalent radii (Å) of the common elements; others are drawn grey with radius 1.5 Å
const ELEMENTS: Readonly<Record<string, readonly [number, number]>> = {
  H: [0xffffff, 0.31],
  He: [0xd9ffff, 0.28],
  Li: [0xcc80ff, 1.28],
  Be: [0xc2ff00, 0.96],
  B: [0xffb5b5, 0.84],
  C: [0x909090, 0.76],
  N: [0x3050f8, 0.71],
  O: [0xff0d0d, 0.66],
  F: [0x90e050, 0.57],
  Ne: [0xb3e3f5, 0.58],
  Na: [0xab5cf2, 1.66],
  Mg: [0x8aff00, 1.41],
  Al: [0xbfa6a6, 1.21],
  Si: [0xf0c8a0, 1.11],
  P: [0xff8000, 1.07],
  S: [0xffff30, 1.05],
  Cl: [0x1ff01f, 1.02],
  Ar: [0x80d1e3, 1.06],
  K: [0x8f40d4, 2.03],
  Ca: [0x3dff00, 1.76],
  Ti: [0xbfc2c7, 1.6],
  V: [0xa6a6ab, 1.53],
  Cr: [0x8a99c7, 1.39],
  Mn: [0x9c7ac7, 1.39],
  Fe: [0xe06633, 1.32],
  Co: [0xf090a0, 1.26],
  Ni: [0x50d050, 1.24],
  Cu: [0xc88033, 1.32],
  Zn: [0x7d80b0, 1.22],
  Ga: [0xc28f8f, 1.22],
  Ge: [0x668f8f, 1.2],
  As: [0xbd80e3, 1.19],
  Se: [0xffa100, 1.2],
  Br: [0xa62929, 1.2],
  Sr: [0x00ff00, 1.95],
  Zr: [0x94e0e0, 1.75],
  Mo: [0x54b5b5, 1.54],
  Ag: [0xc0c0c0, 1.45],
  Sn: [0x668080, 1.39],
  I: [0x940094, 1.39],
  Ba: [0x00c900, 2.15],
  W: [0x2194d6, 1.62],
  Pt: [0xd0d0e0, 1.36],
  Au: [0xffd123, 1.36],
  Pb: [0x575961, 1.46],
};
const UNKNOWN: readonly [number, number] = [0xb0b0b0, 1.5];

/** Above this many atoms no bonds are drawn: looking for them takes a time that grows with the square. */
const MAX_BONDED_ATOMS = 3_000;

let current: StructureView | null = null;

function elementOf(symbols: readonly string[] | undefined): string {
  // an alloy or vacancy site shows as its first species
  return symbols?.[0] ?? 'X';
}

function cellEdges(cell: readonly Vec[]): Float32Array {
  const [a, b, c] = cell.map((row) => new Vector3(...row)) as [Vector3, Vector3, Vector3];
  const corner = (i: number, j: number, k: number): Vector3 =>
    new Vector3().addScaledVector(a, i).addScaledVector(b, j).addScaledVector(c, k);
  const points: number[] = [];
  for (const [i, j, k] of [
    [0, 0, 0],
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 1, 0],
    [1, 0, 1],
    [0, 1, 1],
    [1, 1, 1],
  ] as const)
    for (const [di, dj, dk] of [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ] as const) {
      const [ni, nj, nk] = [i + di, j + dj, k + dk];
      if (ni > 1 || nj > 1 || nk > 1) continue;
      points.push(...corner(i, j, k).toArray(), ...corner(ni, nj, nk).toArray());
    }
  return new Float32Array(points);
}

/** The colour the unit cell is drawn in: the CSS `color` of `container`, which the theme sets (`--g-line`). */
function lineColour(container: HTMLElement): Color {
  return new Color(getComputedStyle(container).color || '#556070');
}

/**
 * Draws `structure` into `container` (a canvas filling its width) and lets the user rotate (drag), zoom (wheel or
 * pinch) and pan (right drag). Drawn again only when the view or the theme changes. A view mounted before is disposed.
 * Throws when the browser has no WebGL.
 */
export function mountStructure(container: HTMLElement, structure: StructureAttributes): StructureView {
  current?.dispose();
  const kinds = new Map((structure.kinds ?? []).map((kind) => [kind.name, elementOf(kind.symbols)]));
  const atoms = (structure.sites ?? []).map((site) => ({
    symbol: kinds.get(site.kind_name) ?? 'X',
    position: new Vector3(...site.position),
  }));
  const cell = structure.cell ?? [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];

  const renderer = new WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
  const width = Math.max(200, container.clientWidth);
  const height = Math.min(480, Math.max(240, Math.round(width * 0.6)));
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(width, height);
  renderer.domElement.dataset['testid'] = 'structure-canvas';
  container.replaceChildren(renderer.domElement);

  const scene = new Scene();
  const model = new Group();
  scene.add(model);
  scene.add(new AmbientLight(0xffffff, 1.2));
  const camera = new PerspectiveCamera(40, width / height, 0.1, 10_000);
  const light = new DirectionalLight(0xffffff, 2.2);
  camera.add(light);
  light.position.set(1, 1, 2);
  scene.add(camera);

  // one instanced mesh per element: thousands of atoms stay a handful of draw calls
  const sphere = new SphereGeometry(1, 24, 16);
  const bySymbol = new Map<string, Vector3[]>();
  for (const atom of atoms) bySymbol.set(atom.symbol, [...(bySymbol.get(atom.symbol) ?? []), atom.position]);
  const legend: { symbol: string; color: string }[] = [];
  const matrix = new Matrix4();
  const disposables: { dispose(): void }[] = [sphere];
  for (const [symbol, positions] of bySymbol) {
    const [color, radius] = ELEMENTS[symbol] ?? UNKNOWN;
    const material = new MeshStandardMaterial({ color, roughness: 0.45, metalness: 0.1 });
    disposables.push(material);
    const mesh = new InstancedMesh(sphere, material, positions.length);
    const scale = 0.35 + radius * 0.25;
    positions.forEach((position, index) =>
      mesh.setMatrixAt(index, matrix.compose(position, new Quaternion(), new Vector3(scale, scale, scale))),
    );
    model.add(mesh);
    legend.push({ symbol, color: `#${new Color(color).getHexString()}` });
  }

  // sticks between atoms closer than their covalent radii allow (with 15 % slack)
  if (atoms.length <= MAX_BONDED_ATOMS) {
    const bonds: [Vector3, Vector3][] = [];
    for (let i = 0; i < atoms.length; i += 1)
      for (let j = i + 1; j < atoms.length; j += 1) {
        const a = atoms[i];
        const b = atoms[j];
        if (a === undefined || b === undefined) continue;
        const reach = 1.15 * ((ELEMENTS[a.symbol] ?? UNKNOWN)[1] + (ELEMENTS[b.symbol] ?? UNKNOWN)[1]);
        const distance = a.position.distanceTo(b.position);
        if (distance > 0.1 && distance < reach) bonds.push([a.position, b.position]);
      }
    if (bonds.length > 0) {
      const stick = new CylinderGeometry(0.12, 0.12, 1, 10);
      const material = new MeshStandardMaterial({ color: 0x9aa3ad, roughness: 0.6 });
      disposables.push(stick, material);
      const mesh = new InstancedMesh(stick, material, bonds.length);
      const up = new Vector3(0, 1, 0);
      bonds.forEach(([from, to], index) => {
        const direction = new Vector3().subVectors(to, from);
        const length = direction.length();
        const middle = new Vector3().addVectors(from, to).multiplyScalar(0.5);
        const turn = new Quaternion().setFromUnitVectors(up, direction.normalize());
        mesh.setMatrixAt(index, matrix.compose(middle, turn, new Vector3(1, length, 1)));
      });
      model.add(mesh);
    }
  }

  // the unit cell, in the view's CSS colour so that it shows in both themes
  const box = new BufferGeometry();
  box.setAttribute('position', new Float32BufferAttribute(cellEdges(cell), 3));
  const lines = new LineBasicMaterial({ color: lineColour(container) });
  disposables.push(box, lines);
  model.add(new LineSegments(box, lines));

  // look at the middle of the cell from far enough to see all of it
  const corners = cellEdges(cell);
  const centre = new Vector3();
  let count = 0;
  for (let index = 0; index < corners.length; index += 3) {
    centre.add(new Vector3(corners[index], corners[index + 1], corners[index + 2]));
    count += 1;
  }
  for (const atom of atoms) {
    centre.add(atom.position);
    count += 1;
  }
  centre.divideScalar(Math.max(1, count));
  let extent = 1;
  for (let index = 0; index < corners.length; index += 3)
    extent = Math.max(
      extent,
      centre.distanceTo(new Vector3(corners[index], corners[index + 1], corners[index + 2])),
    );
  for (const atom of atoms) extent = Math.max(extent, centre.distanceTo(atom.position) + 1);
  camera.position.copy(centre).add(new Vector3(0.9, 0.6, 1.6).normalize().multiplyScalar(extent * 3));
  camera.lookAt(centre);

  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.copy(centre);
  const draw = (): void => renderer.render(scene, camera);
  controls.addEventListener('change', draw);
  controls.update();
  draw();
  container.dataset['rendered'] = String(atoms.length);

  // the theme button changes that colour (the root's data-theme) without a new view: follow it, or the cell
  // keeps the old theme's colour (dark lines on the dark background) until the node is opened again
  const recolour = (): void => {
    const colour = lineColour(container);
    if (colour.equals(lines.color)) return;
    lines.color.copy(colour);
    draw();
  };
  const themeObserver = new MutationObserver(recolour);
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });

  const view: StructureView = {
    legend,
    dispose() {
      themeObserver.disconnect();
      controls.removeEventListener('change', draw);
      controls.dispose();
      for (const item of disposables) item.dispose();
      renderer.dispose();
      renderer.forceContextLoss();
      if (current === view) current = null;
    },
  };
  current = view;
  return view;
}
