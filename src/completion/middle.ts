// The typed middle of a PSM prompt. In prefix-suffix-middle order the suffix follows the prefix, so a
// character typed at the end of the prefix moves every suffix token and the whole suffix is prefilled again
// on each keystroke. Instead the text from an anchor (a line start) to the cursor goes after the middle
// token: <PRE> prefix-to-anchor <SUF> suffix <MID> anchor-to-cursor. Typing then only appends to the
// prompt, as in SPM order. The model was trained on exactly this: FIM training cuts a document at random
// characters and computes the loss on every middle token, each predicted from the prefix, the suffix and
// the middle before it. (llama.vim sends the cursor's line as /infill's `prompt`, documented as "added
// after the FIM_MID token"; llama-server appends it to the prefix instead, so that is plain PSM.)
//
// The anchor is kept from request to request while the text before it is unchanged and the middle stays
// within MAX_MIDDLE_NEWLINES lines, so a new line typed costs nothing either; else it moves to the start of
// the cursor's line, and the suffix is prefilled again once.

/** Where a kept prefix window's middle began: the length of the window's text before it, and a hash of that text. */
export interface MiddleAnchor {
  chars: number;
  hash: number;
}

/**
 * Newlines a kept middle may hold before its anchor moves to the cursor's line. Each move prefills the
 * suffix and the middle's lines again; a longer middle is a FIM sample whose middle is further along (as
 * much a training case; its quality on real models is unmeasured here, none can be downloaded).
 * bench edit-replay, stories260K, PSM, prefilled tokens over the sessions (cold requests excluded):
 * 0 newlines 3,744; 2: 2,583; 8: 1,934; 32: 1,640; all of the prefix before the suffix 18,896; SPM 1,740.
 * 8 takes most of the gain.
 */
export const MAX_MIDDLE_NEWLINES = 8;

/** FNV-1a over UTF-16 code units (32 bits). A collision only costs cache reuse: any anchor gives a valid prompt. */
export function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The anchor of a window whose middle is its last `middleChars` characters. */
export function anchorOf(windowText: string, middleChars: number): MiddleAnchor {
  const chars = windowText.length - middleChars;
  return { chars, hash: textHash(windowText.slice(0, chars)) };
}

/**
 * Offset in `windowText` (the prefix window, ending at the cursor) where the typed middle starts: the kept
 * `anchor` while the text before it is the same, it is a line start, and the middle after it holds at
 * most MAX_MIDDLE_NEWLINES newlines; else the start of the cursor's line.
 */
export function middleStart(windowText: string, anchor?: MiddleAnchor): number {
  if (anchor && keeps(windowText, anchor)) return anchor.chars;
  return windowText.lastIndexOf('\n') + 1;
}

function keeps(windowText: string, a: MiddleAnchor): boolean {
  if (a.chars > windowText.length) return false;
  if (a.chars > 0 && windowText[a.chars - 1] !== '\n') return false;
  let newlines = 0;
  for (let i = windowText.indexOf('\n', a.chars); i >= 0; i = windowText.indexOf('\n', i + 1)) {
    if (++newlines > MAX_MIDDLE_NEWLINES) return false;
  }
  return textHash(windowText.slice(0, a.chars)) === a.hash;
}
