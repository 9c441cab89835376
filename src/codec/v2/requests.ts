/**
 * Requests for people, 2.x → 1.x: permissions keep their shape's meaning
 * (`action` → `permission`, `resources` → `patterns`, `save` → `always`, what an
 * `always` would grant; `source` → `tool`), and questions, which 2.x asks as
 * forms, become `question.asked`. Shapes captured from 2.1.2
 * (test/fixtures/2.1.2/permission-*.sse, question-answer.sse).
 */
import { str, type Rec, type V1Payload } from "./shared.js";
import { isRecord } from "../session.js";

export function translateRequest(type: string, d: Rec): V1Payload[] {
  const sid = str(d.sessionID);
  switch (type) {
    case "permission.asked": {
      const id = str(d.id);
      if (sid === undefined || id === undefined) return [];
      const source = isRecord(d.source) ? d.source : undefined;
      const tool = source?.type === "tool" && str(source.messageID) && str(source.id) ? { messageID: source.messageID, callID: source.id } : undefined;
      return [
        {
          type: "permission.asked",
          properties: {
            id,
            sessionID: sid,
            ...(str(d.action) !== undefined ? { permission: d.action } : {}),
            patterns: Array.isArray(d.resources) ? d.resources : [],
            // What an `always` grants: 2.x names the rules it would save.
            always: Array.isArray(d.save) ? d.save : [],
            metadata: isRecord(d.metadata) ? d.metadata : {},
            ...(str(d.message) !== undefined ? { message: d.message } : {}),
            ...(tool ? { tool } : {}),
          },
        },
      ];
    }
    case "permission.replied": {
      const requestID = str(d.requestID);
      if (sid === undefined || requestID === undefined) return [];
      return [{ type: "permission.replied", properties: { sessionID: sid, requestID, ...(d.reply !== undefined ? { reply: d.reply } : {}) } }];
    }
    default:
      return translateForm(type, d);
  }
}

/**
 * Questions are forms in 2.x (`form.created` with `metadata.kind: "question"`).
 * As 1.x's `question.asked` the form keeps its id as the request id, each
 * question its field's `key` (the answer body names fields by key), and the
 * whole form under `form`.
 */
function translateForm(type: string, d: Rec): V1Payload[] {
  const form = isRecord(d.form) ? d.form : undefined;
  if (type === "form.created") {
    const id = str(form?.id);
    const sid = str(form?.sessionID) ?? str(d.sessionID);
    const meta = isRecord(form?.metadata) ? form.metadata : {};
    if (form === undefined || id === undefined || sid === undefined || meta.kind !== "question") return [];
    const fields = Array.isArray(form.fields) ? form.fields.filter(isRecord) : [];
    // Captured (2.1.2): a field's `title` is the question's header, its `description` the question.
    const questions = fields.map((f) => ({
      key: f.key,
      question: f.description ?? f.title ?? "",
      header: f.title ?? "",
      options: Array.isArray(f.options) ? f.options : [],
      ...(f.multiple !== undefined ? { multiple: f.multiple } : {}),
      ...(f.custom !== undefined ? { custom: f.custom } : {}),
    }));
    const t = isRecord(meta.tool) ? meta.tool : {};
    const tool = str(t.messageID) && str(t.id) ? { messageID: t.messageID, callID: t.id } : undefined;
    return [{ type: "question.asked", properties: { id, sessionID: sid, questions, form, ...(tool ? { tool } : {}) } }];
  }
  if (type === "form.replied" || type === "form.cancelled") {
    const id = str(d.formID) ?? str(form?.id) ?? str(d.id);
    const sid = str(d.sessionID) ?? str(form?.sessionID);
    if (id === undefined) return [];
    const answer = isRecord(d.answer) ? { answer: d.answer } : {};
    return [{ type: type === "form.replied" ? "question.replied" : "question.rejected", properties: { requestID: id, ...(sid ? { sessionID: sid } : {}), ...answer } }];
  }
  return [];
}

/**
 * The body of `POST /api/session/:sid/form/:fid/reply` for 1.x-style answers
 * (one list of chosen labels or typed texts per question, in order): each
 * field's `key` gets its answer — a chosen option's `value` (the label is what
 * a person picked), typed text as it is; a `multiselect` field a list, any other
 * one string. `Form.Answer` from 2.1.2's /openapi.json; the captured reply was
 * `{answer: {q0: "Blue"}}` (test/fixtures/2.1.2/question-answer.http.json).
 */
export function v2FormAnswer(form: unknown, answers: readonly (readonly string[])[]): { answer: Record<string, string | string[]> } {
  const fields = isRecord(form) && Array.isArray(form.fields) ? form.fields.filter(isRecord) : [];
  const answer: Record<string, string | string[]> = {};
  fields.forEach((f, i) => {
    const key = str(f.key);
    const given = answers[i];
    if (key === undefined || given === undefined) return;
    const options = Array.isArray(f.options) ? f.options.filter(isRecord) : [];
    const values = given.map((g) => str(options.find((o) => o.label === g || o.value === g)?.value) ?? g);
    answer[key] = f.type === "multiselect" ? values : (values[0] ?? "");
  });
  return { answer };
}
