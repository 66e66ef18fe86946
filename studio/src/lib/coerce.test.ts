import { describe, expect, it } from "vitest";
import type { InputSpec } from "../api/types";
import {
  checkObjectJson,
  coerceNumber,
  fieldKind,
  initialValues,
  isRequired,
  toInputs,
  valuesFromExample,
} from "./coerce";

// The inputs of sample-repo's support-reply and code-review, plus an object input.
const specs: Record<string, InputSpec> = {
  customer: { type: "string", required: true },
  ticket: { type: "string" },
  tier: { type: "string", default: "free", enum: ["free", "pro", "enterprise"] },
  urgent: { type: "boolean", default: false },
  max_paragraphs: { type: "number", default: 3 },
  focus: { type: "array<string>", default: ["correctness", "readability"] },
  account: { type: "object", required: false },
  flag: { type: "boolean", required: false },
  level: { type: "number", enum: [1, 2, 3] },
};

describe("fieldKind", () => {
  it("picks a widget per declared type", () => {
    expect(fieldKind(specs.customer!)).toBe("text");
    expect(fieldKind(specs.tier!)).toBe("select");
    expect(fieldKind(specs.urgent!)).toBe("switch");
    expect(fieldKind(specs.max_paragraphs!)).toBe("number");
    expect(fieldKind(specs.focus!)).toBe("tags");
    expect(fieldKind(specs.account!)).toBe("json");
    expect(fieldKind(specs.level!)).toBe("select");
    expect(fieldKind({ type: "mystery" })).toBe("text");
  });
});

describe("isRequired", () => {
  it("is required unless a default or required: false", () => {
    expect(isRequired(specs.customer!)).toBe(true);
    expect(isRequired(specs.ticket!)).toBe(true); // no default, no required: false
    expect(isRequired(specs.tier!)).toBe(false);
    expect(isRequired(specs.account!)).toBe(false);
    expect(isRequired({ type: "string", required: true, default: "x" })).toBe(false);
  });
});

describe("initialValues", () => {
  it("fills defaults and leaves the rest empty", () => {
    const v = initialValues(specs);
    expect(v.customer).toBe("");
    expect(v.tier).toBe("free");
    expect(v.urgent).toBe(false);
    expect(v.max_paragraphs).toBe("3");
    expect(v.focus).toEqual(["correctness", "readability"]);
    expect(v.account).toBe("");
    expect(v.flag).toBeNull();
  });

  it("sends the defaults as typed values", () => {
    const { inputs, errors } = toInputs(specs, initialValues(specs));
    expect(errors).toEqual({});
    expect(inputs).toEqual({
      tier: "free",
      urgent: false,
      max_paragraphs: 3,
      focus: ["correctness", "readability"],
    });
  });
});

describe("presets from examples", () => {
  it("overrides defaults with the example, ignoring undeclared keys", () => {
    const v = valuesFromExample(specs, {
      customer: "Linus",
      urgent: true,
      max_paragraphs: 2,
      account: { plan: "pro" },
      stray: 1,
    });
    expect(v.customer).toBe("Linus");
    expect(v.urgent).toBe(true);
    expect(v.max_paragraphs).toBe("2");
    expect(v.account).toBe('{\n  "plan": "pro"\n}');
    expect(v).not.toHaveProperty("stray");
    const { inputs } = toInputs(specs, v);
    expect(inputs.account).toEqual({ plan: "pro" });
    expect(inputs.max_paragraphs).toBe(2);
  });
});

describe("coerceNumber", () => {
  it("converts integers and decimals", () => {
    expect(coerceNumber("3")).toBe(3);
    expect(coerceNumber(" -12 ")).toBe(-12);
    expect(coerceNumber("2.5")).toBe(2.5);
    expect(coerceNumber(".5")).toBe(0.5);
    expect(coerceNumber("1e3")).toBe(1000);
  });

  it("leaves what is not a number as text, for the server to name", () => {
    expect(coerceNumber("abc")).toBe("abc");
    expect(coerceNumber("1,5")).toBe("1,5");
    expect(coerceNumber("NaN")).toBe("NaN");
    expect(coerceNumber("Infinity")).toBe("Infinity");
    expect(coerceNumber("99999999999999999999")).toBe(1e20); // not safe as int: a float
  });
});

describe("toInputs", () => {
  it("converts each field by its declared type", () => {
    const { inputs, errors } = toInputs(specs, {
      ...initialValues(specs),
      customer: "Ada",
      ticket: "  spaces kept  ",
      tier: "pro",
      urgent: true,
      max_paragraphs: "5",
      focus: [" naming ", "", "tests"],
      account: '{"plan": "pro", "seats": 3}',
      flag: false,
      level: "2",
    });
    expect(errors).toEqual({});
    expect(inputs).toEqual({
      customer: "Ada",
      ticket: "  spaces kept  ",
      tier: "pro",
      urgent: true,
      max_paragraphs: 5,
      focus: ["naming", "tests"],
      account: { plan: "pro", seats: 3 },
      flag: false,
      level: 2,
    });
  });

  it("leaves out empty fields so the server applies defaults or names the missing", () => {
    const { inputs } = toInputs(specs, {
      customer: "",
      max_paragraphs: "  ",
      focus: [],
      account: "",
      flag: null,
    });
    expect(inputs).toEqual({});
  });

  it("sends a bad number as typed so the 422 names it", () => {
    const { inputs, errors } = toInputs(specs, { max_paragraphs: "lots" });
    expect(errors).toEqual({});
    expect(inputs.max_paragraphs).toBe("lots");
  });

  it("stops an object field whose text is not JSON", () => {
    const { inputs, errors } = toInputs(specs, { account: "{plan: pro}" });
    expect(inputs).not.toHaveProperty("account");
    expect(errors.account).toMatch(/^not valid JSON/);
  });

  it("sends a JSON value that is not an object, for the server to refuse", () => {
    const { inputs } = toInputs(specs, { account: "[1, 2]" });
    expect(inputs.account).toEqual([1, 2]);
  });
});

describe("checkObjectJson", () => {
  it("accepts objects and empty text, refuses the rest", () => {
    expect(checkObjectJson("")).toBeNull();
    expect(checkObjectJson('{"a": 1}')).toBeNull();
    expect(checkObjectJson("[1]")).toBe("expected a JSON object ({ … })");
    expect(checkObjectJson('"x"')).toBe("expected a JSON object ({ … })");
    expect(checkObjectJson("{")).toMatch(/^not valid JSON/);
  });
});
