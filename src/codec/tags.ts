/**
 * Streaming removal of third-party plugin tags from model text.
 *
 * Context plugins (opencode-dcp and similar) put markers such as
 * `<dcp-message-id>m0042</dcp-message-id>` into what the model sees, and models
 * echo them back. They are bookkeeping, not answer text, so they must not reach
 * a host — even when a tag is cut across deltas. The filter holds back only a
 * suffix that could still turn out to be such a tag; everything else passes at once.
 *
 * Invariant: concatenating every `push` result and the final `flush` gives the
 * input text with complete tag blocks (and stray tags of the family) removed.
 */

/** Tag names removed: `dcp-…` (dynamic context pruning). */
const PREFIX = "<dcp-";
const CLOSE_PREFIX = "</dcp-";
/** A held-back tail longer than this is released as text: no real marker is that long. */
const MAX_HOLD = 4096;

const BLOCK = /^<(dcp-[A-Za-z0-9_-]+)(?:\s[^>]*)?>[\s\S]*?<\/\1\s*>/;
/** A stray closing tag, or a self-closing one. */
const SINGLE = /^(?:<\/dcp-[A-Za-z0-9_-]+\s*>|<dcp-[A-Za-z0-9_-]+(?:\s[^>]*)?\/>)/;
const OPEN_TAG = /^<(dcp-[A-Za-z0-9_-]+)(?:\s[^>]*)?>/;

export interface TagFilter {
  /** Text held back because it may still become a tag. */
  hold: string;
}

export function createTagFilter(): TagFilter {
  return { hold: "" };
}

/** Could `s` (which starts with "<") still grow into a tag of the family? */
function mayBecomeTag(s: string): boolean {
  if (s.startsWith("</")) {
    if (s.length < CLOSE_PREFIX.length) return CLOSE_PREFIX.startsWith(s);
    return s.startsWith(CLOSE_PREFIX) && !s.includes(">");
  }
  if (s.length < PREFIX.length) return PREFIX.startsWith(s);
  if (!s.startsWith(PREFIX)) return false;
  const open = OPEN_TAG.exec(s);
  if (!open) return !s.includes(">"); // tag name or attributes still arriving
  return true; // an open tag waiting for its closing tag
}

/** Feed text; returns the part that can be emitted now. Mutates `f.hold`. */
export function pushTagFilter(f: TagFilter, text: string): string {
  // Fast path: nothing held and no "<" at all.
  if (f.hold === "" && text.indexOf("<") < 0) return text;
  let buf = f.hold + text;
  let out = "";
  for (;;) {
    const lt = buf.indexOf("<");
    if (lt < 0) {
      out += buf;
      buf = "";
      break;
    }
    out += buf.slice(0, lt);
    buf = buf.slice(lt);
    const block = BLOCK.exec(buf) ?? SINGLE.exec(buf);
    if (block) {
      buf = buf.slice(block[0].length);
      continue;
    }
    if (mayBecomeTag(buf) && buf.length <= MAX_HOLD) break; // hold the rest
    out += "<";
    buf = buf.slice(1);
  }
  f.hold = buf;
  return out;
}

/** End of the text: release whatever is held (an unfinished tag is text after all). */
export function flushTagFilter(f: TagFilter): string {
  const rest = f.hold;
  f.hold = "";
  return rest;
}

/** Remove the tags from a complete text (what the streaming filter produces for it). */
export function stripTags(text: string): string {
  const f = createTagFilter();
  return pushTagFilter(f, text) + flushTagFilter(f);
}
