#include "CICU.h"
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>
#include <unicode/uversion.h>

// UTF-8 -> UTF-16 into a malloc'd buffer; returns NULL on error (error code in *status).
static UChar *to_utf16(const char *in, int32_t length, int32_t *outLen, UErrorCode *status) {
    int32_t needed = 0;
    u_strFromUTF8(NULL, 0, &needed, in, length, status);
    if (*status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(*status)) return NULL;
    *status = U_ZERO_ERROR;
    UChar *buf = (UChar *)malloc(sizeof(UChar) * (size_t)(needed + 1));
    if (!buf) { *status = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    u_strFromUTF8(buf, needed + 1, outLen, in, length, status);
    if (U_FAILURE(*status)) { free(buf); return NULL; }
    return buf;
}

int32_t s2s_normalize_utf8(const char *in, int32_t length, int32_t form, int32_t lowercase,
                           char *out, int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n16 = 0;
    UChar *src = to_utf16(in, length, &n16, &status);
    if (!src) return -(int32_t)status;

    if (form != S2S_NORM_NONE) {
        const UNormalizer2 *norm = form == S2S_NORM_NFC ? unorm2_getNFCInstance(&status)
                                                        : unorm2_getNFKCInstance(&status);
        if (U_FAILURE(status)) { free(src); return -(int32_t)status; }
        int32_t cap = n16 * 4 + 16;  // NFKC can expand (e.g. U+FDFA to 18 code units)
        for (;;) {
            UChar *dst = (UChar *)malloc(sizeof(UChar) * (size_t)cap);
            if (!dst) { free(src); return -(int32_t)U_MEMORY_ALLOCATION_ERROR; }
            status = U_ZERO_ERROR;
            int32_t n = unorm2_normalize(norm, src, n16, dst, cap, &status);
            if (status == U_BUFFER_OVERFLOW_ERROR) { free(dst); cap = n + 16; continue; }
            free(src);
            if (U_FAILURE(status)) { free(dst); return -(int32_t)status; }
            src = dst; n16 = n;
            break;
        }
    }
    if (lowercase) {
        int32_t cap = n16 * 2 + 16;
        for (;;) {
            UChar *dst = (UChar *)malloc(sizeof(UChar) * (size_t)cap);
            if (!dst) { free(src); return -(int32_t)U_MEMORY_ALLOCATION_ERROR; }
            status = U_ZERO_ERROR;
            int32_t n = u_strToLower(dst, cap, src, n16, "", &status);
            if (status == U_BUFFER_OVERFLOW_ERROR) { free(dst); cap = n + 16; continue; }
            free(src);
            if (U_FAILURE(status)) { free(dst); return -(int32_t)status; }
            src = dst; n16 = n;
            break;
        }
    }
    status = U_ZERO_ERROR;
    int32_t needed = 0;
    u_strToUTF8(out, capacity, &needed, src, n16, &status);
    free(src);
    if (status == U_BUFFER_OVERFLOW_ERROR || status == U_STRING_NOT_TERMINATED_WARNING) return needed;
    if (U_FAILURE(status)) return -(int32_t)status;
    return needed;
}

void s2s_icu_version(char *out, int32_t capacity) {
    UVersionInfo v;
    char buf[U_MAX_VERSION_STRING_LENGTH];
    u_getVersion(v);
    u_versionToString(v, buf);
    strncpy(out, buf, (size_t)capacity);
    if (capacity > 0) out[capacity - 1] = 0;
}

int32_t s2s_sentence_breaks(const char *text, int32_t length, const char *locale, int32_t *offsets,
                            int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    // A UTF-8 UText: the iterator's indices are byte offsets into `text` (no UTF-16 copy).
    UText *ut = utext_openUTF8(NULL, text, length, &status);
    if (U_FAILURE(status)) return -(int32_t)status;
    UBreakIterator *bi = ubrk_open(UBRK_SENTENCE, locale, NULL, 0, &status);
    if (U_FAILURE(status)) { utext_close(ut); return -(int32_t)status; }
    ubrk_setUText(bi, ut, &status);
    if (U_FAILURE(status)) { ubrk_close(bi); utext_close(ut); return -(int32_t)status; }
    int32_t count = 0;
    for (int32_t b = ubrk_next(bi); b != UBRK_DONE; b = ubrk_next(bi)) {
        if (b <= 0 || b >= length) continue;
        if (count < capacity) offsets[count] = b;
        count++;
    }
    ubrk_close(bi);
    utext_close(ut);
    return count;
}
