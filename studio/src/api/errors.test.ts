import { describe, expect, it } from "vitest";
import { ApiError, errorFromResponse, findingsByLine, networkError, problemsByInput } from "./errors";

describe("errorFromResponse", () => {
  it("maps the server's error shape", () => {
    const body = JSON.stringify({
      error: {
        code: "invalid_inputs",
        message: "missing required input 'ticket' (string)",
        problems: [
          { input: "ticket", message: "missing required input 'ticket' (string)", expected: "string", value: null },
          { input: "urgent", message: "input 'urgent': expected boolean, got 'banana'", expected: "boolean", value: "banana" },
        ],
      },
    });
    const e = errorFromResponse(422, body);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(422);
    expect(e.code).toBe("invalid_inputs");
    expect(e.message).toBe("missing required input 'ticket' (string)");
    expect(e.problems).toHaveLength(2);
    expect(problemsByInput(e)).toEqual({
      ticket: ["missing required input 'ticket' (string)"],
      urgent: ["input 'urgent': expected boolean, got 'banana'"],
    });
  });

  it("maps invalid_request problems of body fields to inputs", () => {
    const e = errorFromResponse(
      422,
      JSON.stringify({
        error: {
          code: "invalid_request",
          message: "body.inputs.tier: bad; body.ref: bad",
          problems: [
            { field: "body.inputs.tier", message: "bad tier" },
            { field: "body.ref", message: "bad ref" },
          ],
        },
      }),
    );
    expect(problemsByInput(e)).toEqual({ tier: ["bad tier"], "": ["bad ref"] });
  });

  it("keeps check findings with their lines", () => {
    const e = errorFromResponse(
      422,
      JSON.stringify({
        error: {
          code: "invalid_prompt",
          message: "prompts/x.yaml:3: unknown input 'nmae'",
          findings: [
            { severity: "error", path: "prompts/x.yaml", line: 3, rule: "undeclared-variable", message: "unknown input 'nmae'" },
            { severity: "warning", path: "prompts/x.yaml", line: null, rule: "unused-input", message: "unused" },
          ],
        },
      }),
    );
    expect(e.findings[0]).toEqual({
      severity: "error",
      path: "prompts/x.yaml",
      line: 3,
      rule: "undeclared-variable",
      message: "unknown input 'nmae'",
    });
    const byLine = findingsByLine(e.findings);
    expect(byLine.get(3)).toHaveLength(1);
    expect(byLine.get(0)?.[0]?.rule).toBe("unused-input");
  });

  it("flags 401 (back to sign-in) and 412 (stale edit)", () => {
    const e401 = errorFromResponse(401, '{"error": {"code": "unauthenticated", "message": "invalid API key"}}');
    expect(e401.isUnauthenticated).toBe(true);
    expect(e401.isStale).toBe(false);
    const e412 = errorFromResponse(
      412,
      '{"error": {"code": "precondition_failed", "message": "If-Match does not name the current content"}}',
    );
    expect(e412.isStale).toBe(true);
    expect(e412.isUnauthenticated).toBe(false);
  });

  it("falls back to the status when the body is not the error shape", () => {
    const html = errorFromResponse(502, "<html>Bad Gateway</html>");
    expect(html.code).toBe("bad_gateway");
    expect(html.message).toBe("The server is not reachable");
    const empty = errorFromResponse(404, "");
    expect(empty.code).toBe("not_found");
    const detail = errorFromResponse(405, '{"detail": "Method Not Allowed"}');
    expect(detail.message).toBe("Method Not Allowed");
    const odd = errorFromResponse(418, '{"error": "teapot"}');
    expect(odd.code).toBe("http_error");
    expect(odd.message).toBe("The server answered 418");
    const five = errorFromResponse(599, "");
    expect(five.code).toBe("server_error");
  });

  it("ignores malformed problem and finding entries", () => {
    const e = errorFromResponse(
      422,
      JSON.stringify({ error: { code: "invalid_inputs", message: "m", problems: [null, 3, { message: "x" }], findings: "no" } }),
    );
    expect(e.problems).toEqual([{ input: undefined, field: undefined, message: "x", expected: null, value: undefined }]);
    expect(e.findings).toEqual([]);
    expect(problemsByInput(e)).toEqual({ "": ["x"] });
    expect(problemsByInput(null)).toEqual({});
  });
});

describe("networkError", () => {
  it("says the server cannot be reached", () => {
    const e = networkError(new TypeError("Failed to fetch"));
    expect(e.status).toBe(0);
    expect(e.code).toBe("network_error");
    expect(e.message).toBe("Cannot reach the Dakora server: Failed to fetch");
  });
});
