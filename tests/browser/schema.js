// A small checker for the OpenAPI 3.0 schema subset web/openapi.json
// uses (type, nullable, enum, required, properties, additionalProperties,
// items, $ref, allOf, oneOf, minimum), so the tests check the daemon's real
// documents against the one description the console renders from.
// check(doc, "Incident", value) returns a list of "path: problem" strings.
"use strict";

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function checker(doc) {
  const schemas = doc.components.schemas;
  const resolve = (s) => {
    while (s && s.$ref) s = schemas[s.$ref.replace("#/components/schemas/", "")];
    return s;
  };
  function walk(s0, v, path, out) {
    const s = resolve(s0);
    if (!s) { out.push(path + ": unknown schema " + JSON.stringify(s0)); return; }
    if (v === null) {
      if (!(s.nullable || (s0 && s0.nullable))) out.push(path + ": null where a value is required");
      return;
    }
    for (const sub of s.allOf || []) walk(sub, v, path, out);
    if (s.oneOf) {
      const ok = s.oneOf.filter((sub) => { const o = []; walk(sub, v, path, o); return o.length === 0; });
      if (ok.length === 0) out.push(path + ": matches none of oneOf");
    }
    const t = typeOf(v);
    if (s.type && !(s.type === t || (s.type === "number" && t === "integer")))
      out.push(path + ": expected " + s.type + ", got " + t + " " + JSON.stringify(v).slice(0, 80));
    if (s.enum && !s.enum.includes(v)) out.push(path + ": " + JSON.stringify(v) + " not in " + s.enum.join("|"));
    if (s.minimum !== undefined && typeof v === "number" && v < s.minimum) out.push(path + ": below " + s.minimum);
    if (t === "object") {
      for (const r of s.required || []) if (!(r in v)) out.push(path + ": missing " + r);
      for (const [k, x] of Object.entries(v)) {
        if (s.properties && s.properties[k]) walk(s.properties[k], x, path + "." + k, out);
        else if (s.additionalProperties === false) out.push(path + ": unexpected member " + k);
        else if (s.additionalProperties && typeof s.additionalProperties === "object")
          walk(s.additionalProperties, x, path + "." + k, out);
      }
    }
    if (t === "array" && s.items) v.forEach((x, i) => walk(s.items, x, path + "[" + i + "]", out));
  }
  return (name, v) => {
    const out = [];
    walk({ $ref: "#/components/schemas/" + name }, v, name, out);
    return out;
  };
}

module.exports = { checker };
