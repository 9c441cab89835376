/** The one error-message helper: whatever was thrown says something, never `undefined`. */
import { describe, expect, it } from "vitest";
import { errorMessage } from "../src/util/errors.js";

describe("errorMessage", () => {
  it("reads an Error's message, a message-bearing object's, and renders anything else", () => {
    expect(errorMessage(new TypeError("bad"))).toBe("bad");
    expect(errorMessage({ message: "from an object" })).toBe("from an object");
    expect(errorMessage("a thrown string")).toBe("a thrown string");
    expect(errorMessage(undefined)).toBe("undefined");
    expect(errorMessage(null)).toBe("null");
    expect(errorMessage({ message: 42 })).toBe("[object Object]");
  });
});
