/**
 * Answers: the pure half of request handling. Reading OpenCode's question
 * payload defensively and checking that an answer fits its request; no I/O,
 * no state. The live handling (policy, hook, timeout, sending) is in
 * src/adapter/requests.ts.
 */
import type { BridgeRequest, QuestionItem, RequestAnswer } from "../codec/requests.js";
import { isRecord } from "../codec/session.js";

/** A rejection carrying a message for the model. */
export const reject = (message: string): RequestAnswer => ({ reply: "reject", message });

/** Why `answer` cannot answer `req`, or undefined when it can. */
export function invalidAnswer(req: BridgeRequest, answer: unknown): string | undefined {
  if (!isRecord(answer)) return `an answer must be an object, got ${JSON.stringify(answer)}`;
  if ("answers" in answer) {
    if (req.kind !== "question") return `request ${req.request_id} is a permission: answer it with {"reply": "once" | "always" | "reject"}`;
    const a = answer.answers;
    if (!Array.isArray(a) || !a.every((x) => Array.isArray(x) && x.every((s) => typeof s === "string"))) {
      return `answers must be an array with one array of strings per question, got ${JSON.stringify(a)}`;
    }
    if (a.length !== req.questions.length) return `answers must have one entry per question (${req.questions.length}), got ${a.length}`;
    for (const [i, q] of req.questions.entries()) {
      const problem = badChoice(q, a[i] as string[]);
      if (problem !== undefined) return `answer ${i + 1} (to "${q.question}"): ${problem}`;
    }
    return undefined;
  }
  if ("reply" in answer) {
    const r = answer.reply;
    if (req.kind === "question" && r !== "reject") return `a question takes {"answers": [[…]]} or {"reply": "reject"}, got reply ${JSON.stringify(r)}`;
    if (r !== "once" && r !== "always" && r !== "reject") return `reply must be "once", "always" or "reject", got ${JSON.stringify(r)}`;
    if (answer.message !== undefined && typeof answer.message !== "string") return `message must be a string, got ${JSON.stringify(answer.message)}`;
    return undefined;
  }
  return req.kind === "permission"
    ? `a permission takes {"reply": "once" | "always" | "reject", "message"?: string}`
    : `a question takes {"answers": [[…]]} or {"reply": "reject"}`;
}

/**
 * Why `picked` cannot answer `q`: nothing or an empty label chosen, several for a
 * single choice, or a label that is not an option where free text is not allowed
 * (OpenCode allows it unless `custom` is false).
 */
function badChoice(q: QuestionItem, picked: readonly string[]): string | undefined {
  if (picked.length === 0) return "choose at least one option (or dismiss the question with {\"reply\": \"reject\"})";
  if (picked.some((s) => s.trim() === "")) return "an empty answer is not a choice";
  if (q.multiple !== true && picked.length > 1) return `one choice only (the question is not multiple-choice), got ${picked.length}: ${JSON.stringify(picked)}`;
  if (new Set(picked).size !== picked.length) return `a label chosen twice: ${JSON.stringify(picked)}`;
  const labels = q.options.map((o) => o.label);
  const other = picked.filter((s) => !labels.includes(s));
  if (q.custom === false && other.length > 0) return `${JSON.stringify(other[0])} is not one of the options ${JSON.stringify(labels)} (free text is not allowed)`;
  return undefined;
}

export function strings(v: unknown[]): string[] {
  return v.filter((x): x is string => typeof x === "string");
}

/** One of OpenCode's `QuestionInfo`s, read defensively (an unreadable one is left out). */
export function toQuestion(q: unknown): QuestionItem[] {
  if (!isRecord(q) || typeof q.question !== "string") return [];
  const options = Array.isArray(q.options)
    ? q.options.flatMap((o) =>
        isRecord(o) && typeof o.label === "string"
          ? [{ label: o.label, ...(typeof o.description === "string" ? { description: o.description } : {}) }]
          : [],
      )
    : [];
  return [
    {
      question: q.question,
      ...(typeof q.header === "string" ? { header: q.header } : {}),
      options,
      ...(typeof q.multiple === "boolean" ? { multiple: q.multiple } : {}),
      ...(typeof q.custom === "boolean" ? { custom: q.custom } : {}),
    },
  ];
}
