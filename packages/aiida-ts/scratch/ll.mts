import { parse, stringify, isLosslessNumber } from 'lossless-json';
const v = parse('{"a": 2.0, "b": 1, "c": [1.50, 1e400], "d": "x"}') as any;
console.log(v, stringify(v), isLosslessNumber(v.b));
