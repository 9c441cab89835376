/**
 * Answers checked against their request (src/adapter/answers.ts): a question's
 * answers must fit it — one choice for a single-choice question, at least one,
 * no empty label, option labels only where free text is not allowed.
 */
import { describe, expect, it } from "vitest";
import { invalidAnswer } from "../src/adapter/answers.js";
import type { QuestionAsk, QuestionItem } from "../src/codec/requests.js";

const colour: QuestionItem = { question: "Which colour?", options: [{ label: "Blue" }, { label: "Red" }] };
const ask = (...questions: QuestionItem[]): QuestionAsk => ({ kind: "question", request_id: "que_1", trace_id: "t", session_id: "ses_1", questions });

describe("question answers fit the question", () => {
  it("takes one option label, or free text where the question allows it (OpenCode's default)", () => {
    expect(invalidAnswer(ask(colour), { answers: [["Blue"]] })).toBeUndefined();
    expect(invalidAnswer(ask(colour), { answers: [["Teal, please"]] })).toBeUndefined();
    expect(invalidAnswer(ask({ ...colour, multiple: true }), { answers: [["Blue", "Red"]] })).toBeUndefined();
  });

  it("refuses two labels for a single choice, an empty selection, an empty label, a label twice", () => {
    expect(invalidAnswer(ask(colour), { answers: [["Blue", "Red"]] })).toMatch(/one choice only/);
    expect(invalidAnswer(ask({ ...colour, multiple: false }), { answers: [["Blue", "Red"]] })).toMatch(/one choice only/);
    expect(invalidAnswer(ask(colour), { answers: [[]] })).toMatch(/choose at least one/);
    expect(invalidAnswer(ask(colour), { answers: [["  "]] })).toMatch(/empty answer/);
    expect(invalidAnswer(ask({ ...colour, multiple: true }), { answers: [["Red", "Red"]] })).toMatch(/chosen twice/);
  });

  it("refuses a label that is not an option when free text is not allowed, naming the options", () => {
    const strict = { ...colour, custom: false };
    expect(invalidAnswer(ask(strict), { answers: [["Green"]] })).toBe('answer 1 (to "Which colour?"): "Green" is not one of the options ["Blue","Red"] (free text is not allowed)');
    expect(invalidAnswer(ask(strict), { answers: [["Red"]] })).toBeUndefined();
  });

  it("checks every question, and says which one is wrong", () => {
    const size: QuestionItem = { question: "Which size?", options: [{ label: "S" }, { label: "M" }], custom: false };
    expect(invalidAnswer(ask(colour, size), { answers: [["Blue"], ["M"]] })).toBeUndefined();
    expect(invalidAnswer(ask(colour, size), { answers: [["Blue"], ["XL"]] })).toMatch(/^answer 2 \(to "Which size\?"\)/);
    expect(invalidAnswer(ask(colour, size), { answers: [["Blue"]] })).toMatch(/one entry per question \(2\), got 1/);
  });
});
