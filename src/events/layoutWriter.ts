// Writes a record's fields by name, from a generated struct layout: the
// encoders never spell an offset or a width. A nested struct's fields are
// named `outer.inner` (e.g. `h.tid`, `f.address`); a field left out is
// zero.

import { type FieldLayout, type StructLayout } from './layout.generated.js';

export type FieldValue = number | bigint | string | readonly bigint[];

const utf8 = new TextEncoder();

/** Writes `values` into `buf` at `o` (zeroed first) as `layout` says; `all` resolves nested structs. */
export function writeStruct(
  buf: Uint8Array,
  o: number,
  layout: StructLayout,
  all: Record<string, StructLayout>,
  values: Record<string, FieldValue>,
): void {
  buf.fill(0, o, o + layout.size);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const [name, v] of Object.entries(values)) {
    const f = fieldAt(layout, all, name);
    if (f === undefined) throw new Error(`writeStruct: no field ${name}`);
    writeField(dv, buf, o + f.offset, f, v, name);
  }
}

function fieldAt(layout: StructLayout, all: Record<string, StructLayout>, name: string): FieldLayout | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return layout.fields[name];
  const outer = layout.fields[name.slice(0, dot)];
  if (outer?.struct === undefined) return undefined;
  const inner = fieldAt(all[outer.struct], all, name.slice(dot + 1));
  return inner && { ...inner, offset: outer.offset + inner.offset };
}

function writeField(dv: DataView, buf: Uint8Array, at: number, f: FieldLayout, v: FieldValue, name: string): void {
  if (f.type === 'char') {
    // UTF-8, whole characters only, NUL-terminated (the field is zeroed)
    utf8.encodeInto(String(v), buf.subarray(at, at + f.size - 1));
    return;
  }
  if (Array.isArray(v)) {
    const width = f.size / (f.count ?? 1);
    v.forEach((x, i) => writeField(dv, buf, at + i * width, { ...f, count: undefined, size: width }, x, name));
    return;
  }
  const big = typeof v === 'bigint' ? v : BigInt(Math.round(Number(v)));
  switch (f.type) {
    case 'u8':
      dv.setUint8(at, Number(BigInt.asUintN(8, big)));
      break;
    case 'u16':
      dv.setUint16(at, Number(BigInt.asUintN(16, big)), true);
      break;
    case 'u32':
    case 's32':
      dv.setUint32(at, Number(BigInt.asUintN(32, big)), true);
      break;
    case 'u64':
    case 's64':
      dv.setBigUint64(at, BigInt.asUintN(64, big), true);
      break;
    default:
      throw new Error(`writeStruct: field ${name} of type ${f.type} takes nested names`);
  }
}
