// Thin C wrapper over the ICU calls seq2seq needs. The public header uses only <stdint.h> types so
// that it never meets the ICU copy Foundation carries (see ../shared/PLATFORM.md).
#ifndef SEQ2SEQ_CICU_H
#define SEQ2SEQ_CICU_H
#include <stdint.h>

/// Unicode normalization forms the text pipeline offers.
enum {
    S2S_NORM_NONE = 0,
    S2S_NORM_NFC = 1,
    S2S_NORM_NFKC = 2,
};

/// Normalizes UTF-8 text with the given form, optionally applying full Unicode lowercasing
/// (ICU root locale, so "STRASSE" and "Straße" behave as ICU defines).
/// Writes at most `capacity` bytes to `out` (not NUL-terminated) and returns the full length needed,
/// or a negative ICU error code. Call again with a larger buffer when the result exceeds `capacity`.
int32_t s2s_normalize_utf8(const char *in, int32_t length, int32_t form, int32_t lowercase,
                           char *out, int32_t capacity);

/// Sentence boundaries of UTF-8 text by ICU's sentence break rules for `locale` ("" is the root
/// locale; "de@ss=standard" also keeps German abbreviations such as "z.B." inside sentences).
/// Writes the byte offsets at which the second, third, ... sentence starts (ascending, each strictly
/// between 0 and `length`) into `offsets`, at most `capacity` of them, and returns how many there are
/// (more than `capacity`: call again with a larger buffer), or a negative ICU error code.
int32_t s2s_sentence_breaks(const char *text, int32_t length, const char *locale, int32_t *offsets,
                            int32_t capacity);

/// ICU's version string, e.g. "72.1", written into `out` (NUL-terminated).
void s2s_icu_version(char *out, int32_t capacity);

#endif
