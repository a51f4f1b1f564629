// Hand-written inputs that stress BERT normalization, pre-tokenization and
// WordPiece. Escapes keep invisible characters visible in review.
'use strict';

const long = (s, n) => s.repeat(Math.ceil(n / s.length)).slice(0, n);

const hardCases = [
  // empty and whitespace only
  '',
  ' ',
  '\t\n\r ',
  '\u00a0\u3000\u2003',
  // accents (bert-base-uncased strips them: strip_accents null + lowercase)
  'café résumé naïve façade Ångström',
  'CAFÉ RÉSUMÉ ÉCOLE',
  'Crème brûlée, jalapeño, Zürich, Kraków, São Paulo, Dvořák',
  'cafe\u0301 (combining acute) vs caf\u00e9 (precomposed)',
  'e\u0301\u0302\u0323 stacked marks a\u0308\u0304',
  'İstanbul ıi Iİ ß ẞ ǅ ǈ ǋ ﬁ ﬂ ﬀ',
  'ΑΒΓ Σίσυφος ΟΔΥΣΣΕΥΣ',
  'Ⅻ ① ㈱ ㍿ ™ ℃ ½ ² ₂',
  // emoji and symbols
  'I love it 😍😍😍 so much!!!',
  '👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ ✌️',
  '🥰🫠🪿 newer emoji',
  '$100 €50 £20 ¥1000 ₹500 ₿0.1',
  'a+b=c <tag> {json: [1,2]} 50% #hash @user ~tilde `tick` |pipe| ^caret',
  '©®℗ ♥♦♣♠ ←↑→↓ ∑∏∫ ≤≥≠',
  // CJK inside Latin text, Japanese, Korean
  'I ate 饺子 in 北京 yesterday',
  'the word是chinese混合text',
  'Tokyo東京とうきょうトウキョウ',
  '한국어 텍스트 처리 테스트',
  '㐀㐁 𠀀𠀁 𪜀 𫝀 𫠠 𬺰 丽 豈',
  'ｈｅｌｌｏ ｗｏｒｌｄ　ＡＢＣ　１２３',
  // full-width and CJK punctuation
  '你好，世界！这是“测试”。（括号）【方括号】《书名》',
  '你好,世界!测试.(括号)',
  '日本語、句読点。「かぎ括弧」『二重』',
  '…—–‑‒―・〜～',
  // control, format and zero-width characters
  'zero\u200bwidth\u200cnon\u200djoiner',
  'soft\u00adhyphen and\ufeffbom',
  'bidi \u202aembedded\u202c and \u2066isolate\u2069 \u200eltr\u200f',
  'null\u0000byte bell\u0007 esc\u001b[0m del\u007f',
  'c1 controls \u0080\u0085\u009f here',
  'line\nbreak\ttab\rreturn\u000bvtab\u000cformfeed',
  'line\u2028sep\u2029para',
  'replacement \ufffd char',
  'private \ue000\uf8ff use \udb80\udc00',
  'variation selector ︎︎ A\ufe0f B\ufe0e',
  'word\u0301 \u0301 leading combining mark',
  '\u0600\u0601 arabic number sign \u06dd',
  // NBSP and other spaces
  'non\u00a0breaking\u00a0space',
  'thin\u2009space figure\u2007space narrow\u202fnbsp ideographic\u3000space',
  'ogham\u1680space mongolian\u180evowel',
  'multiple     spaces\t\t\ttabs\n\n\nnewlines',
  '  leading and trailing  ',
  // scripts
  'مرحبا بالعالم، هذا اختبار.',
  'العربية مع تشكيل: مُحَمَّد',
  'Привет, мир! Ёлка и ЁЖИК.',
  'नमस्ते दुनिया, यह एक परीक्षण है।',
  'ภาษาไทยไม่มีช่องว่าง',
  'שלום עולם',
  'Ελληνικά: ά έ ή ί ό ύ ώ ΐ ΰ',
  'Tiếng Việt có dấu: Nguyễn Thị Minh Khai',
  'ꦗꦮ 𐐷 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝',
  // words over 100 characters, and near the limit
  long('a', 99),
  long('a', 100),
  long('a', 101),
  long('ab', 100) + ' short ' + long('xy', 150),
  long('é', 100),
  long('é', 101),
  long('supercalifragilistic', 120),
  'pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism',
  long('你', 150),
  long('😀', 101),
  // special tokens in the text
  '[CLS] hello [SEP] world [MASK] [PAD] [UNK]',
  'x[SEP]y [sep] [ SEP ] [SEP',
  '[MASK][MASK]',
  // numbers, urls, code
  '3.14159 1,000,000 2024-01-02 12:30pm 1e-9 0x1F',
  'https://example.com/path?q=1&r=2#frag user@mail.org',
  "don't won't y'all ''quoted'' «guillemets» „low“",
  'C++ C# F# .NET node.js __init__ snake_case camelCase',
  'a.b.c...d!!!e???f',
  // misc real-world noise
  '<br /><br />html entities &amp; &#39; &quot;',
  'unbelievable unaffable un-bleeping-believable',
  "ALL CAPS SHOUTING AND MiXeD CaSe",
];

const hardPairs = [
  ['How old are you?', 'I am 6 years old.'],
  ['café', 'CAFÉ'],
  ['', ''],
  ['', 'only the second'],
  ['only the first', ''],
  ['我很好', 'I am fine 😀'],
  [long('word ', 300), 'short'],
  ['short', long('word ', 300)],
  [long('a b ', 200), long('c d ', 200)],
  ['zero\u200bwidth', '\u00a0nbsp\u00a0'],
  ['[SEP]', '[CLS]'],
  [long('a', 101), long('b', 100)],
];

module.exports = { hardCases, hardPairs };
