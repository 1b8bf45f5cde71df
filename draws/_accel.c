/* draws._accel: optional C versions of the hot loops of draws.leaves, draws.merkle,
 * draws.entries and draws.filters.
 *
 * Why: a million-entry draw costs about six SHA-256 compressions per entry (HMAC salt,
 * id commitment, leaf hash, Merkle node); in CPython each call costs a Python-level
 * round trip, in C it costs the compression alone (SHA-NI through OpenSSL). Import and
 * filters spend their time in per-row str methods and regexes, which the ASCII cases here
 * replace by byte loops. The answers are those of the pure-Python functions, byte for
 * byte (tests/draws/test_accel.py); the pure code stays the reference and the fallback
 * when this module is not built, and decides every case this module declines.
 *
 * build_leaves(host_secret, identities, weights) -> (leaves, order, salts, levels)
 *   as draws.leaves.build_leaves: salt = HMAC-SHA256(host_secret, id), id_commit =
 *   SHA-256(salt || id), leaf = id_commit || u64be(weight), sorted by (leaf, input index);
 *   `leaves` (list of 40-byte bytes) and `order` (list of int) in sorted order, `salts`
 *   one bytes object of 32-byte salts in *input* order, `levels` one bytes object per
 *   RFC 9162 level (leaf hashes first; an odd last node is promoted unchanged).
 * merkle_root(leaves) -> bytes: RFC 9162 MTH over raw leaves (as draws.merkle.merkle_root).
 * leaf_weights, split_csv, split_ascii, digits_to_ints, handles, text_verdicts,
 * first_occurrences, prefixed, select: see each function below and its pure counterpart
 * named in draws/.
 *
 * The hashing and the sort run with the GIL released, on a private copy of the inputs;
 * large hashing loops are cut in two halves, the upper one on a second thread (each half
 * writes only its own outputs, so the bytes do not depend on the split or the timing).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEAF 40
#define HASH 32

/* SHA-256 through the low-level context API: OpenSSL 3's one-shot SHA256() fetches an
 * EVP implementation on every call, several times the cost of the compression itself. */
static void sha256(const void *data, size_t size, unsigned char *out) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, size);
    SHA256_Final(out, &ctx);
}

typedef struct {
    unsigned char leaf[LEAF];
    uint32_t index;
} record_t;

static int compare_records(const void *a, const void *b) {
    const record_t *x = a, *y = b;
    int c = memcmp(x->leaf, y->leaf, LEAF);
    if (c) return c;
    return (x->index > y->index) - (x->index < y->index);
}

static void insertion_sort(record_t *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        record_t x = a[i];
        size_t j = i;
        while (j > 0 && compare_records(&a[j - 1], &x) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Sort by (leaf, index) into `out`. Leaves start with a SHA-256 output, so a stable
 * counting sort on their first two bytes leaves ~n/65536 records per bucket, each then
 * sorted by the full comparison (qsort for a large bucket, so no input is quadratic). */
static int sort_records(const record_t *in, record_t *out, size_t n) {
    size_t *start = calloc(65537, sizeof *start);
    if (!start) return -1;
    for (size_t i = 0; i < n; i++) start[((size_t)in[i].leaf[0] << 8 | in[i].leaf[1]) + 1]++;
    for (size_t b = 1; b <= 65536; b++) start[b] += start[b - 1];
    size_t *next = malloc(65536 * sizeof *next);
    if (!next) {
        free(start);
        return -1;
    }
    memcpy(next, start, 65536 * sizeof *next);
    for (size_t i = 0; i < n; i++) out[next[(size_t)in[i].leaf[0] << 8 | in[i].leaf[1]]++] = in[i];
    for (size_t b = 0; b < 65536; b++) {
        size_t size = start[b + 1] - start[b];
        if (size > 32) {
            qsort(out + start[b], size, sizeof *out, compare_records);
        } else if (size > 1) {
            insertion_sort(out + start[b], size);
        }
    }
    free(next);
    free(start);
    return 0;
}

/* Below this many items a loop stays on one thread (starting one costs ~50 µs). */
#define PARALLEL_MIN 16384

typedef void (*range_fn)(void *ctx, size_t lo, size_t hi);

typedef struct {
    range_fn fn;
    void *ctx;
    size_t lo, hi;
} job_t;

static void *job_main(void *arg) {
    job_t *job = arg;
    job->fn(job->ctx, job->lo, job->hi);
    return NULL;
}

/* fn(ctx, 0, n), the upper half on a second thread when n is large (or on this one when no
 * thread can be started). Call without the GIL; fn must write only its own range. */
static void parallel_for(range_fn fn, void *ctx, size_t n) {
    pthread_t thread;
    job_t job = {fn, ctx, n / 2, n};
    if (n < PARALLEL_MIN || pthread_create(&thread, NULL, job_main, &job) != 0) {
        fn(ctx, 0, n);
        return;
    }
    fn(ctx, 0, n / 2);
    pthread_join(thread, NULL);
}

typedef struct {
    const unsigned char *level;
    unsigned char *out;
} pairs_t;

static void hash_pairs(void *arg, size_t lo, size_t hi) {
    pairs_t *c = arg;
    unsigned char buf[1 + 2 * HASH];
    buf[0] = 0x01;
    for (size_t i = lo; i < hi; i++) {
        memcpy(buf + 1, c->level + 2 * i * HASH, 2 * HASH);
        sha256(buf, sizeof buf, c->out + i * HASH);
    }
}

/* Parent level of `count` nodes into `out` (not overlapping `level`); returns its count. */
static size_t next_level(const unsigned char *level, size_t count, unsigned char *out) {
    size_t pairs = count / 2;
    pairs_t ctx = {level, out};
    parallel_for(hash_pairs, &ctx, pairs);
    if (count % 2) memcpy(out + pairs * HASH, level + (count - 1) * HASH, HASH);
    return pairs + count % 2;
}

static void hash_leaf(const unsigned char *leaf, size_t size, unsigned char *out) {
    SHA256_CTX ctx;
    static const unsigned char prefix = 0x00;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, &prefix, 1);
    SHA256_Update(&ctx, leaf, size);
    SHA256_Final(out, &ctx);
}

typedef struct {
    const unsigned char *const *ptr; /* leaf i at ptr[i] (size[i] bytes), or ... */
    const size_t *size;
    const unsigned char *packed; /* ... leaf i at packed + i * stride (LEAF bytes) */
    size_t stride;
    unsigned char *out;
} leaves_t;

static void hash_leaves_range(void *arg, size_t lo, size_t hi) {
    leaves_t *c = arg;
    for (size_t i = lo; i < hi; i++) {
        if (c->ptr) hash_leaf(c->ptr[i], c->size[i], c->out + i * HASH);
        else hash_leaf(c->packed + i * c->stride, LEAF, c->out + i * HASH);
    }
}

typedef struct {
    SHA256_CTX inner0, outer0;
    const char **id_ptr;
    const size_t *id_len;
    unsigned char *salts;
    record_t *records;
} salts_t;

/* salt = HMAC(key, id) from the pads' states; id_commit = SHA-256(salt || id) */
static void salt_and_commit(void *arg, size_t lo, size_t hi) {
    salts_t *c = arg;
    for (size_t i = lo; i < hi; i++) {
        SHA256_CTX ctx = c->inner0;
        unsigned char inner[HASH];
        unsigned char *salt = c->salts + i * HASH;
        SHA256_Update(&ctx, c->id_ptr[i], c->id_len[i]);
        SHA256_Final(inner, &ctx);
        ctx = c->outer0;
        SHA256_Update(&ctx, inner, HASH);
        SHA256_Final(salt, &ctx);
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, salt, HASH);
        SHA256_Update(&ctx, c->id_ptr[i], c->id_len[i]);
        SHA256_Final(c->records[i].leaf, &ctx);
    }
}

/* Number of levels of a tree over n >= 1 leaves (leaves included). */
static size_t level_count(size_t n) {
    size_t levels = 1;
    while (n > 1) {
        n = (n + 1) / 2;
        levels++;
    }
    return levels;
}

/* All levels as a list of bytes (a level's hashes back to back), from n leaf hashes. */
static PyObject *levels_list(unsigned char *hashes, size_t n) {
    size_t depth = n ? level_count(n) : 1;
    PyObject *levels = PyList_New((Py_ssize_t)depth);
    if (!levels) return NULL;
    unsigned char *scratch = n > 1 ? PyMem_RawMalloc(((n + 1) / 2) * HASH) : NULL;
    if (n > 1 && !scratch) {
        Py_DECREF(levels);
        return PyErr_NoMemory();
    }
    /* Build level by level; each level's Python list is made before the next overwrites. */
    unsigned char *cur = hashes, *next = scratch;
    size_t count = n;
    for (size_t d = 0; d < depth; d++) {
        PyObject *level = PyBytes_FromStringAndSize((const char *)cur, (Py_ssize_t)(count * HASH));
        if (!level) {
            PyMem_RawFree(scratch);
            Py_DECREF(levels);
            return NULL;
        }
        PyList_SET_ITEM(levels, (Py_ssize_t)d, level);
        if (d + 1 < depth) {
            size_t parents;
            Py_BEGIN_ALLOW_THREADS
            parents = next_level(cur, count, next);
            Py_END_ALLOW_THREADS
            unsigned char *t = cur;
            cur = next;
            next = (d == 0) ? hashes : t; /* level d is now in Python objects: reuse its buffer */
            count = parents;
        }
    }
    PyMem_RawFree(scratch);
    return levels;
}

static PyObject *accel_build_leaves(PyObject *self, PyObject *args) {
    Py_buffer secret;
    PyObject *ids_arg, *weights_arg;
    if (!PyArg_ParseTuple(args, "y*OO", &secret, &ids_arg, &weights_arg)) return NULL;

    PyObject *result = NULL, *ids = NULL, *weights = NULL, *salts = NULL;
    PyObject *leaves_l = NULL, *order_l = NULL, *levels_l = NULL;
    const char **id_ptr = NULL;
    size_t *id_len = NULL;
    record_t *records = NULL, *sorted = NULL;
    unsigned char *hashes = NULL;

    ids = PySequence_Tuple(ids_arg); /* our own references: safe while the GIL is released */
    if (!ids) goto done;
    weights = PySequence_Tuple(weights_arg);
    if (!weights) goto done;
    size_t n = (size_t)PyTuple_GET_SIZE(ids);
    if ((size_t)PyTuple_GET_SIZE(weights) != n) {
        PyErr_SetString(PyExc_ValueError, "identities and weights differ in length");
        goto done;
    }
    if (n > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "at most 2**32 entries");
        goto done;
    }
    size_t alloc = n ? n : 1;
    salts = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * HASH));
    id_ptr = PyMem_RawMalloc(alloc * sizeof *id_ptr);
    id_len = PyMem_RawMalloc(alloc * sizeof *id_len);
    records = PyMem_RawMalloc(alloc * sizeof *records);
    sorted = PyMem_RawMalloc(alloc * sizeof *sorted);
    hashes = PyMem_RawMalloc(alloc * HASH);
    if (!salts || !id_ptr || !id_len || !records || !sorted || !hashes) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *id = PyTuple_GET_ITEM(ids, (Py_ssize_t)i);
        Py_ssize_t len;
        const char *p;
        if (PyUnicode_Check(id)) {
            p = PyUnicode_AsUTF8AndSize(id, &len); /* UTF-8, cached in the str object */
        } else if (PyBytes_Check(id)) {
            p = PyBytes_AS_STRING(id);
            len = PyBytes_GET_SIZE(id);
        } else {
            PyErr_Format(PyExc_TypeError, "identity %zu is not str or bytes", i);
            goto done;
        }
        if (!p) goto done;
        id_ptr[i] = p;
        id_len[i] = (size_t)len;
        unsigned long long w = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(weights, (Py_ssize_t)i));
        if (w == (unsigned long long)-1 && PyErr_Occurred()) goto done;
        for (int b = 0; b < 8; b++) records[i].leaf[HASH + b] = (unsigned char)(w >> (56 - 8 * b));
        records[i].index = (uint32_t)i;
    }

    /* HMAC key pads, their SHA-256 states computed once (RFC 2104). */
    unsigned char key[64] = {0}, pad[64];
    if (secret.len > 64) {
        sha256(secret.buf, (size_t)secret.len, key);
    } else {
        memcpy(key, secret.buf, (size_t)secret.len);
    }
    salts_t job = {.id_ptr = id_ptr, .id_len = id_len, .records = records};
    job.salts = (unsigned char *)PyBytes_AS_STRING(salts);
    for (int b = 0; b < 64; b++) pad[b] = key[b] ^ 0x36;
    SHA256_Init(&job.inner0);
    SHA256_Update(&job.inner0, pad, 64);
    for (int b = 0; b < 64; b++) pad[b] = key[b] ^ 0x5c;
    SHA256_Init(&job.outer0);
    SHA256_Update(&job.outer0, pad, 64);

    int sort_failed;
    leaves_t leaf_job = {.packed = sorted->leaf, .stride = sizeof *sorted, .out = hashes};
    Py_BEGIN_ALLOW_THREADS
    parallel_for(salt_and_commit, &job, n);
    sort_failed = sort_records(records, sorted, n);
    if (!sort_failed) parallel_for(hash_leaves_range, &leaf_job, n);
    Py_END_ALLOW_THREADS
    if (sort_failed) {
        PyErr_NoMemory();
        goto done;
    }

    leaves_l = PyList_New((Py_ssize_t)n);
    order_l = PyList_New((Py_ssize_t)n);
    if (!leaves_l || !order_l) goto done;
    for (size_t i = 0; i < n; i++) {
        PyObject *leaf = PyBytes_FromStringAndSize((const char *)sorted[i].leaf, LEAF);
        if (!leaf) goto done;
        PyList_SET_ITEM(leaves_l, (Py_ssize_t)i, leaf);
        PyObject *index = PyLong_FromSize_t(sorted[i].index);
        if (!index) goto done;
        PyList_SET_ITEM(order_l, (Py_ssize_t)i, index);
    }
    levels_l = levels_list(hashes, n);
    if (!levels_l) goto done;
    result = PyTuple_Pack(4, leaves_l, order_l, salts, levels_l);

done:
    PyBuffer_Release(&secret);
    Py_XDECREF(ids);
    Py_XDECREF(weights);
    Py_XDECREF(salts);
    PyMem_RawFree(id_ptr);
    PyMem_RawFree(id_len);
    PyMem_RawFree(records);
    PyMem_RawFree(sorted);
    PyMem_RawFree(hashes);
    Py_XDECREF(leaves_l);
    Py_XDECREF(order_l);
    Py_XDECREF(levels_l);
    return result;
}

static PyObject *accel_merkle_root(PyObject *self, PyObject *arg) {
    PyObject *leaves = PySequence_Tuple(arg);
    if (!leaves) return NULL;
    size_t n = (size_t)PyTuple_GET_SIZE(leaves);
    if (n == 0) {
        Py_DECREF(leaves);
        unsigned char empty[HASH];
        sha256("", 0, empty);
        return PyBytes_FromStringAndSize((const char *)empty, HASH);
    }
    const char **ptr = PyMem_RawMalloc(n * sizeof *ptr);
    size_t *len = PyMem_RawMalloc(n * sizeof *len);
    unsigned char *level = PyMem_RawMalloc(n * HASH), *other = PyMem_RawMalloc(((n + 1) / 2) * HASH);
    PyObject *result = NULL;
    if (!ptr || !len || !level || !other) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *leaf = PyTuple_GET_ITEM(leaves, (Py_ssize_t)i);
        if (!PyBytes_Check(leaf)) {
            PyErr_Format(PyExc_TypeError, "leaf %zu is not bytes", i);
            goto done;
        }
        ptr[i] = PyBytes_AS_STRING(leaf);
        len[i] = (size_t)PyBytes_GET_SIZE(leaf);
    }
    leaves_t job = {.ptr = (const unsigned char *const *)ptr, .size = len, .out = level};
    unsigned char *cur = level, *next = other;
    Py_BEGIN_ALLOW_THREADS
    parallel_for(hash_leaves_range, &job, n);
    for (size_t count = n; count > 1;) { /* two buffers: the halves must not overlap */
        count = next_level(cur, count, next);
        unsigned char *t = cur;
        cur = next;
        next = t;
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)cur, HASH);
done:
    Py_DECREF(leaves);
    PyMem_RawFree(ptr);
    PyMem_RawFree(len);
    PyMem_RawFree(level);
    PyMem_RawFree(other);
    return result;
}

/* leaf_weights(leaves) -> list of int (each leaf's last 8 bytes, big-endian), or None
 * when an item is not a 40-byte bytes object (the caller's pure code then reports it). */
static PyObject *accel_leaf_weights(PyObject *self, PyObject *arg) {
    PyObject *leaves = PySequence_Tuple(arg);
    if (!leaves) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(leaves);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *leaf = PyTuple_GET_ITEM(leaves, i);
        if (!PyBytes_Check(leaf) || PyBytes_GET_SIZE(leaf) != LEAF) {
            Py_DECREF(leaves);
            Py_RETURN_NONE;
        }
    }
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(leaves, i)) + HASH;
        unsigned long long w = 0;
        for (int b = 0; b < 8; b++) w = w << 8 | p[b];
        PyObject *item = PyLong_FromUnsignedLongLong(w);
        if (!item) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(leaves);
    return out;
}

static int is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

/* ---- entries and filters: columnar helpers (draws.entries, draws.filters) ---- */

/* split_csv(text, start, ncols, max_row, strip) -> list of ncols lists of str, or None.
 * The quote-free, LF-only fast path of draws.entries._split_fast for the body that starts
 * at `start`: None when a line is not exactly ncols fields or is longer than max_row
 * characters (the caller then uses the csv module). A final empty line is ignored. With
 * `strip`, each field is returned as str.strip() would return it (Py_UNICODE_ISSPACE). */
/* Fill `columns` (ncols lists of `lines` NULLs) from the body; 0 done, 1 mismatch, -1 error.
 * Inlined once per string kind so that each reads its characters directly. */
static inline __attribute__((always_inline)) int split_body(
    PyObject *text, int kind, const void *data, Py_ssize_t len, Py_ssize_t start, Py_ssize_t lines,
    PyObject *columns, Py_ssize_t ncols, Py_ssize_t max_row, int strip, int ascii) {
    Py_ssize_t pos = start;
    for (Py_ssize_t row = 0; row < lines; row++) {
        Py_ssize_t line_start = pos, field = pos;
        Py_ssize_t j = 0;
        for (;; pos++) {
            Py_UCS4 c = pos < len ? PyUnicode_READ(kind, data, pos) : '\n';
            if (c != ',' && c != '\n') continue;
            if (j >= ncols) return 1;
            Py_ssize_t a = field, b = pos;
            if (strip) {
                while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a))) a++;
                while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1))) b--;
            }
            PyObject *item, *prev = row ? PyList_GET_ITEM(PyList_GET_ITEM(columns, j), row - 1) : NULL;
            if (ascii && prev && PyUnicode_GET_LENGTH(prev) == b - a &&
                memcmp(PyUnicode_DATA(prev), (const char *)data + a, (size_t)(b - a)) == 0) {
                item = prev; /* same value as the row above (a platform column): share it */
                Py_INCREF(item);
            } else if (ascii) { /* no scan for the widest character: it is ASCII */
                item = PyUnicode_New(b - a, 127);
                if (item) memcpy(PyUnicode_DATA(item), (const char *)data + a, (size_t)(b - a));
            } else {
                item = PyUnicode_Substring(text, a, b);
            }
            if (!item) return -1;
            PyList_SET_ITEM(PyList_GET_ITEM(columns, j), row, item);
            j++;
            field = pos + 1;
            if (c == '\n') break;
        }
        if (j != ncols || pos - line_start > max_row) return 1;
        pos++;
    }
    return 0;
}

static PyObject *accel_split_csv(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_ssize_t start, ncols, max_row;
    int strip;
    if (!PyArg_ParseTuple(args, "Unnnp", &text, &start, &ncols, &max_row, &strip)) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (ncols < 1 || start < 0 || start > len) {
        PyErr_SetString(PyExc_ValueError, "bad split_csv arguments");
        return NULL;
    }
    /* count lines first: one allocation per column list */
    Py_ssize_t lines = 0;
    if (kind == PyUnicode_1BYTE_KIND) {
        const char *p = (const char *)data + start, *end = (const char *)data + len;
        while ((p = memchr(p, '\n', (size_t)(end - p)))) {
            lines++;
            p++;
        }
    } else {
        for (Py_ssize_t i = start; i < len; i++)
            if (PyUnicode_READ(kind, data, i) == '\n') lines++;
    }
    if (len > start && PyUnicode_READ(kind, data, len - 1) != '\n') lines++;
    PyObject *columns = PyList_New(ncols);
    if (!columns) return NULL;
    for (Py_ssize_t j = 0; j < ncols; j++) {
        PyObject *col = PyList_New(lines);
        if (!col) {
            Py_DECREF(columns);
            return NULL;
        }
        PyList_SET_ITEM(columns, j, col);
    }
    int status;
    if (PyUnicode_IS_ASCII(text)) {
        status = split_body(text, PyUnicode_1BYTE_KIND, data, len, start, lines, columns, ncols, max_row, strip, 1);
    } else if (kind == PyUnicode_1BYTE_KIND) {
        status = split_body(text, PyUnicode_1BYTE_KIND, data, len, start, lines, columns, ncols, max_row, strip, 0);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        status = split_body(text, PyUnicode_2BYTE_KIND, data, len, start, lines, columns, ncols, max_row, strip, 0);
    } else {
        status = split_body(text, PyUnicode_4BYTE_KIND, data, len, start, lines, columns, ncols, max_row, strip, 0);
    }
    if (status == 0) return columns;
    Py_DECREF(columns); /* unfilled slots are NULL, which list_dealloc skips */
    if (status < 0) return NULL;
    Py_RETURN_NONE;
}

/* handles(values) -> list of value.lstrip("@").casefold(); ASCII values in C (casefold is
 * lower-case there), the others through those str methods. */
static PyObject *accel_handles(PyObject *self, PyObject *arg) {
    PyObject *values = PySequence_Tuple(arg);
    if (!values) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(values, i), *item;
        if (PyUnicode_CheckExact(v) && PyUnicode_IS_ASCII(v)) {
            const unsigned char *p = PyUnicode_DATA(v);
            Py_ssize_t m = PyUnicode_GET_LENGTH(v), a = 0;
            while (a < m && p[a] == '@') a++;
            item = PyUnicode_New(m - a, 127);
            if (item) {
                unsigned char *q = PyUnicode_DATA(item);
                for (Py_ssize_t k = a; k < m; k++) q[k - a] = lower(p[k]);
            }
        } else {
            PyObject *stripped = PyObject_CallMethod(v, "lstrip", "s", "@");
            item = stripped ? PyObject_CallMethod(stripped, "casefold", NULL) : NULL;
            Py_XDECREF(stripped);
        }
        if (!item) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(values);
    return out;
}

/* digits_to_ints(values) -> list of int, or None unless every value is a non-empty run
 * of ASCII digits (then int(value) for each, as draws.entries does for timestamps). */
static PyObject *accel_digits_to_ints(PyObject *self, PyObject *arg) {
    PyObject *values = PySequence_Tuple(arg);
    if (!values) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(values, i);
        if (!PyUnicode_Check(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) == 0) goto none;
        const unsigned char *p = PyUnicode_DATA(v);
        for (Py_ssize_t k = 0, m = PyUnicode_GET_LENGTH(v); k < m; k++)
            if (p[k] < '0' || p[k] > '9') goto none;
    }
    if (n == 0) goto none;
    PyObject *out = PyList_New(n);
    if (!out) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(values, i), *item;
        Py_ssize_t m = PyUnicode_GET_LENGTH(v);
        if (m <= 18) {
            const unsigned char *p = PyUnicode_DATA(v);
            long long x = 0;
            for (Py_ssize_t k = 0; k < m; k++) x = x * 10 + (p[k] - '0');
            item = PyLong_FromLongLong(x);
        } else {
            item = PyLong_FromUnicodeObject(v, 10); /* same limits and errors as int() */
        }
        if (!item) {
            Py_DECREF(out);
            goto fail;
        }
        PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(values);
    return out;
none:
    Py_DECREF(values);
    Py_RETURN_NONE;
fail:
    Py_DECREF(values);
    return NULL;
}


/* Does lower(text) contain "#" + tag not followed by a word character? (tag: UTF-8) */
static int has_tag(const unsigned char *p, size_t n, const unsigned char *tag, size_t tn) {
    for (size_t i = 0; i + tn < n; i++) {
        if (p[i] != '#') continue;
        size_t j = 0;
        while (j < tn && lower(p[i + 1 + j]) == tag[j]) j++;
        if (j == tn && (i + 1 + tn == n || !is_word(p[i + 1 + tn]))) return 1;
    }
    return 0;
}

static int same_lower(const unsigned char *a, const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i])) return 0;
    return 1;
}

#define MAX_NEED 64

/* At least `need` distinct mentions (@ + word characters, case-folded) other than `own`? */
static int enough_mentions(const unsigned char *p, size_t n, const unsigned char *own, size_t on, size_t need) {
    const unsigned char *seen[MAX_NEED];
    size_t seen_len[MAX_NEED], count = 0;
    if (need == 0) return 1;
    for (size_t i = 0; i < n;) {
        if (p[i] != '@' || i + 1 >= n || !is_word(p[i + 1])) {
            i++;
            continue;
        }
        size_t a = i + 1, b = a;
        while (b < n && is_word(p[b])) b++;
        i = b;
        size_t m = b - a;
        if (m == on) {
            size_t k = 0;
            while (k < m && lower(p[a + k]) == own[k]) k++;
            if (k == m) continue; /* the entrant's own handle */
        }
        int fresh = 1;
        for (size_t s = 0; s < count && fresh; s++)
            if (seen_len[s] == m && same_lower(seen[s], p + a, m)) fresh = 0;
        if (!fresh) continue;
        seen[count] = p + a;
        seen_len[count] = m;
        if (++count >= need) return 1;
    }
    return 0;
}

/* text_verdicts(texts, handles, tags, need) -> bytes, one per text: bit 0 = every tag is
 * present as a whole hashtag, bit 1 = at least `need` distinct mentions besides the own
 * handle, 0xff = not decided here (a non-ASCII text, or need > 64): ask the pure code.
 * For ASCII text, casefold is ASCII lower-case and \w is [A-Za-z0-9_], so this is
 * draws.filters' regex rule exactly. */
static PyObject *accel_text_verdicts(PyObject *self, PyObject *args) {
    PyObject *texts_arg, *handles_arg, *tags_arg;
    Py_ssize_t need;
    if (!PyArg_ParseTuple(args, "OOOn", &texts_arg, &handles_arg, &tags_arg, &need)) return NULL;
    PyObject *texts = PySequence_Fast(texts_arg, "texts must be a sequence");
    PyObject *handles = PySequence_Fast(handles_arg, "handles must be a sequence");
    PyObject *tags = PySequence_Fast(tags_arg, "tags must be a sequence");
    PyObject *result = NULL;
    if (!texts || !handles || !tags) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(texts), ntags = PySequence_Fast_GET_SIZE(tags);
    if (PySequence_Fast_GET_SIZE(handles) != n || need < 0) {
        PyErr_SetString(PyExc_ValueError, "one handle per text, need >= 0");
        goto done;
    }
    const unsigned char *tag_ptr[16];
    size_t tag_len[16];
    int decide = ntags <= 16 && need <= MAX_NEED;
    for (Py_ssize_t t = 0; decide && t < ntags; t++) {
        Py_ssize_t tl;
        tag_ptr[t] = (const unsigned char *)PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(tags, t), &tl);
        if (!tag_ptr[t]) goto done;
        tag_len[t] = (size_t)tl;
    }
    result = PyBytes_FromStringAndSize(NULL, n);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(texts, i), *handle = PySequence_Fast_GET_ITEM(handles, i);
        if (!decide || !PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text) || !PyUnicode_Check(handle)) {
            out[i] = 0xff;
            continue;
        }
        const unsigned char *p = PyUnicode_DATA(text);
        size_t len = (size_t)PyUnicode_GET_LENGTH(text);
        Py_ssize_t hl;
        const unsigned char *h = (const unsigned char *)PyUnicode_AsUTF8AndSize(handle, &hl);
        if (!h) {
            Py_CLEAR(result);
            goto done;
        }
        int tags_ok = 1;
        for (Py_ssize_t t = 0; t < ntags && tags_ok; t++) tags_ok = has_tag(p, len, tag_ptr[t], tag_len[t]);
        out[i] = (unsigned char)(tags_ok | enough_mentions(p, len, h, (size_t)hl, (size_t)need) << 1);
    }
done:
    Py_XDECREF(texts);
    Py_XDECREF(handles);
    Py_XDECREF(tags);
    return result;
}

/* first_occurrences(items, alive=None) -> bytes: 1 where items[i] equals no earlier item,
 * else 0; with `alive` (bytes, one per item), only the items whose byte is not 0 count and
 * the others get 0. Python's own hash and equality (as a dict would), in an
 * open-addressing table. */
typedef struct {
    Py_hash_t hash;
    Py_ssize_t index; /* -1: empty */
} slot_t;

static PyObject *accel_first_occurrences(PyObject *self, PyObject *args) {
    PyObject *arg, *alive_arg = Py_None;
    if (!PyArg_ParseTuple(args, "O|O", &arg, &alive_arg)) return NULL;
    PyObject *items = PySequence_Tuple(arg); /* our own references, whatever __eq__ does */
    if (!items) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject **item = PySequence_Fast_ITEMS(items);
    const unsigned char *alive = NULL;
    if (alive_arg != Py_None) {
        if (!PyBytes_Check(alive_arg) || PyBytes_GET_SIZE(alive_arg) != n) {
            PyErr_SetString(PyExc_ValueError, "alive must be bytes, one per item");
            Py_DECREF(items);
            return NULL;
        }
        alive = (const unsigned char *)PyBytes_AS_STRING(alive_arg);
    }
    size_t size = 8;
    while (size < 2 * (size_t)n) size <<= 1;
    slot_t *slot = PyMem_RawMalloc(size * sizeof *slot); /* hash beside index: one cache miss */
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (!slot || !result) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        Py_CLEAR(result);
        goto done;
    }
    for (size_t s = 0; s < size; s++) slot[s].index = -1;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (alive && !alive[i]) {
            out[i] = 0;
            continue;
        }
        Py_hash_t h = PyObject_Hash(item[i]);
        if (h == -1) {
            Py_CLEAR(result);
            goto done;
        }
        size_t s = (size_t)h & (size - 1);
        out[i] = 1;
        for (;; s = (s + 1) & (size - 1)) {
            if (slot[s].index < 0) {
                slot[s].hash = h;
                slot[s].index = i;
                break;
            }
            if (slot[s].hash != h) continue;
            int eq = PyObject_RichCompareBool(item[slot[s].index], item[i], Py_EQ);
            if (eq < 0) {
                Py_CLEAR(result);
                goto done;
            }
            if (eq) {
                out[i] = 0;
                break;
            }
        }
    }
done:
    PyMem_RawFree(slot);
    Py_DECREF(items);
    return result;
}

/* prefixed(prefix, values) -> [prefix + v for v in values]; ASCII strings copied directly. */
static PyObject *accel_prefixed(PyObject *self, PyObject *args) {
    PyObject *prefix, *values_arg;
    if (!PyArg_ParseTuple(args, "UO", &prefix, &values_arg)) return NULL;
    PyObject *values = PySequence_Tuple(values_arg);
    if (!values) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(values), pn = PyUnicode_GET_LENGTH(prefix);
    int ascii_prefix = PyUnicode_IS_ASCII(prefix);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(values, i), *item;
        if (ascii_prefix && PyUnicode_CheckExact(v) && PyUnicode_IS_ASCII(v)) {
            Py_ssize_t vn = PyUnicode_GET_LENGTH(v);
            item = PyUnicode_New(pn + vn, 127);
            if (item) {
                memcpy(PyUnicode_DATA(item), PyUnicode_DATA(prefix), (size_t)pn);
                memcpy((char *)PyUnicode_DATA(item) + pn, PyUnicode_DATA(v), (size_t)vn);
            }
        } else {
            item = PyUnicode_Concat(prefix, v);
        }
        if (!item) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(values);
    return out;
}

/* select(columns, mask) -> list of tuples: tuple(itertools.compress(column, mask)) for each
 * column (each as long as mask). A result holding only str, int and None is untracked by the
 * cyclic GC at once, as the GC itself would untrack it at its first look: a million-item
 * tuple then costs no collection anything. */
static int atomic(PyObject *x) { return PyUnicode_CheckExact(x) || PyLong_CheckExact(x) || x == Py_None; }

static PyObject *accel_select(PyObject *self, PyObject *args) {
    PyObject *cols_arg;
    Py_buffer mask;
    if (!PyArg_ParseTuple(args, "Oy*", &cols_arg, &mask)) return NULL;
    PyObject *out = NULL, *cols = PySequence_Fast(cols_arg, "columns must be a sequence");
    if (!cols) goto done;
    const unsigned char *m = mask.buf;
    Py_ssize_t n = mask.len, count = 0, ncols = PySequence_Fast_GET_SIZE(cols);
    for (Py_ssize_t i = 0; i < n; i++) count += m[i] != 0;
    out = PyList_New(ncols);
    for (Py_ssize_t j = 0; out && j < ncols; j++) {
        PyObject *col = PySequence_Fast(PySequence_Fast_GET_ITEM(cols, j), "a column must be a sequence");
        if (!col) {
            Py_CLEAR(out);
            break;
        }
        if (PySequence_Fast_GET_SIZE(col) != n) {
            PyErr_SetString(PyExc_ValueError, "a column and the mask differ in length");
            Py_DECREF(col);
            Py_CLEAR(out);
            break;
        }
        PyObject **items = PySequence_Fast_ITEMS(col), *picked = PyTuple_New(count);
        if (!picked) {
            Py_DECREF(col);
            Py_CLEAR(out);
            break;
        }
        int all_atomic = 1;
        for (Py_ssize_t i = 0, k = 0; i < n; i++) {
            if (!m[i]) continue;
            PyObject *x = items[i];
            Py_INCREF(x);
            PyTuple_SET_ITEM(picked, k++, x);
            if (all_atomic && !atomic(x)) all_atomic = 0;
        }
        if (all_atomic) PyObject_GC_UnTrack(picked);
        PyList_SET_ITEM(out, j, picked);
        Py_DECREF(col);
    }
done:
    Py_XDECREF(cols);
    PyBuffer_Release(&mask);
    return out;
}

/* split_ascii(raw, start, kinds, max_row, digest) -> (sha256 or None, columns) or None.
 * The common import in one pass, for an ASCII, quote-free, LF-only body: raw[start:] is
 * split into len(kinds) fields per line, a final empty line ignored; every field is
 * stripped as str.strip strips it, then, by the column's kind byte:
 *   's' a tuple of str (a value equal to the row above's is shared, not copied);
 *   'h' a tuple of handles: lstrip("@") and lower-case (casefold, for ASCII);
 *   'i' a tuple of int when every field is 1 to 18 ASCII digits, else None (the caller
 *       then asks for the column as 's' and converts it the general way);
 *   '-' None (a column nobody reads).
 * None when a byte is not ASCII or is '"' or '\r', a line has another number of fields,
 * or a line is longer than max_row: draws.entries then takes the general path, which
 * gives the same entries for every input this accepts. With `digest`, the SHA-256 of all
 * of raw is computed meanwhile on a second thread. Tuples are untracked by the GC. */
typedef struct {
    const unsigned char *data;
    size_t len;
    unsigned char out[HASH];
} digest_job_t;

static void *digest_main(void *arg) {
    digest_job_t *job = arg;
    sha256(job->data, job->len, job->out);
    return NULL;
}

enum { PLAIN = 0, COMMA = 1, NEWLINE = 2, REFUSED = 3 };

static PyObject *ascii_field(int kind, const unsigned char *p, Py_ssize_t m, PyObject *prev, int *failed) {
    PyObject *item;
    if (kind == 's') {
        if (prev && PyUnicode_GET_LENGTH(prev) == m && memcmp(PyUnicode_DATA(prev), p, (size_t)m) == 0) {
            Py_INCREF(prev);
            return prev;
        }
        item = PyUnicode_New(m, 127);
        if (item) memcpy(PyUnicode_DATA(item), p, (size_t)m);
        return item;
    }
    if (kind == 'h') {
        Py_ssize_t a = 0;
        while (a < m && p[a] == '@') a++;
        item = PyUnicode_New(m - a, 127);
        if (item) {
            unsigned char *q = PyUnicode_DATA(item);
            for (Py_ssize_t k = a; k < m; k++) q[k - a] = lower(p[k]);
        }
        return item;
    }
    /* 'i' */
    if (m < 1 || m > 18) {
        *failed = 1;
        return NULL;
    }
    long long x = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        if (p[k] < '0' || p[k] > '9') {
            *failed = 1;
            return NULL;
        }
        x = x * 10 + (p[k] - '0');
    }
    return PyLong_FromLongLong(x);
}

static PyObject *accel_split_ascii(PyObject *self, PyObject *args) {
    Py_buffer raw, kinds_buf;
    Py_ssize_t start, max_row;
    int want_digest;
    if (!PyArg_ParseTuple(args, "y*ny*np", &raw, &start, &kinds_buf, &max_row, &want_digest)) return NULL;
    PyObject *result = NULL, *columns = NULL;
    const unsigned char *data = raw.buf, *kinds = kinds_buf.buf;
    Py_ssize_t len = raw.len, ncols = kinds_buf.len;
    digest_job_t job = {.data = data, .len = (size_t)len};
    pthread_t thread;
    int threaded = 0, refused = 0;
    if (ncols < 1 || start < 0 || start > len) {
        PyErr_SetString(PyExc_ValueError, "bad split_ascii arguments");
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncols; j++) {
        if (kinds[j] != 's' && kinds[j] != 'h' && kinds[j] != 'i' && kinds[j] != '-') {
            PyErr_SetString(PyExc_ValueError, "a kind is one of s h i -");
            goto done;
        }
    }
    if (want_digest) threaded = pthread_create(&thread, NULL, digest_main, &job) == 0;
    if (want_digest && !threaded) digest_main(&job);
    Py_ssize_t lines = 0;
    for (const unsigned char *p = data + start, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    if (len > start && data[len - 1] != '\n') lines++;
    unsigned char cls[256];
    for (int c = 0; c < 256; c++) cls[c] = c >= 128 || c == '"' || c == '\r' ? REFUSED : PLAIN;
    cls[','] = COMMA;
    cls['\n'] = NEWLINE;
    columns = PyList_New(ncols);
    if (!columns) goto done;
    int failed[256] = {0}, *fail = ncols <= 256 ? failed : PyMem_RawCalloc((size_t)ncols, sizeof *fail);
    if (!fail) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncols; j++) {
        PyObject *col = kinds[j] == '-' ? Py_NewRef(Py_None) : PyTuple_New(lines);
        if (!col) goto fail_out;
        if (col != Py_None) PyObject_GC_UnTrack(col); /* str and int only */
        PyList_SET_ITEM(columns, j, col);
    }
    Py_ssize_t pos = start;
    for (Py_ssize_t row = 0; row < lines && !refused; row++) {
        Py_ssize_t line_start = pos, j = 0;
        for (;;) {
            Py_ssize_t field = pos;
            while (pos < len && cls[data[pos]] == PLAIN) pos++;
            int c = pos < len ? cls[data[pos]] : NEWLINE;
            if (c == REFUSED || j >= ncols) {
                refused = 1;
                break;
            }
            int kind = kinds[j];
            if (kind != '-' && !fail[j]) {
                Py_ssize_t a = field, b = pos;
                while (a < b && Py_UNICODE_ISSPACE(data[a])) a++;
                while (b > a && Py_UNICODE_ISSPACE(data[b - 1])) b--;
                PyObject *col = PyList_GET_ITEM(columns, j);
                PyObject *prev = row ? PyTuple_GET_ITEM(col, row - 1) : NULL;
                PyObject *item = ascii_field(kind, data + a, b - a, prev, &fail[j]);
                if (item) {
                    PyTuple_SET_ITEM(col, row, item);
                } else if (!fail[j]) {
                    goto fail_out;
                } else {
                    PyList_SetItem(columns, j, Py_NewRef(Py_None)); /* frees the partial tuple */
                }
            }
            j++;
            if (c == NEWLINE) break;
            pos++;
        }
        if (refused || j != ncols || pos - line_start > max_row) refused = 1;
        pos++;
    }
    if (fail != failed) PyMem_RawFree(fail);
    if (threaded) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(thread, NULL);
        Py_END_ALLOW_THREADS
        threaded = 0;
    }
    if (refused) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *digest = want_digest ? PyBytes_FromStringAndSize((const char *)job.out, HASH) : Py_NewRef(Py_None);
    if (digest) {
        result = PyTuple_Pack(2, digest, columns);
        Py_DECREF(digest);
    }
    goto done;
fail_out:
    if (fail != failed) PyMem_RawFree(fail);
done:
    if (threaded) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(thread, NULL);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(columns);
    PyBuffer_Release(&raw);
    PyBuffer_Release(&kinds_buf);
    return result;
}

static PyMethodDef methods[] = {
    {"build_leaves", accel_build_leaves, METH_VARARGS,
     "build_leaves(host_secret, identities, weights) -> (leaves, order, salts, levels)"},
    {"merkle_root", accel_merkle_root, METH_O, "merkle_root(leaves) -> RFC 9162 root over raw leaves"},
    {"leaf_weights", accel_leaf_weights, METH_O, "leaf_weights(leaves) -> list of int or None"},
    {"split_csv", accel_split_csv, METH_VARARGS,
     "split_csv(text, start, ncols, max_row, strip) -> columns or None"},
    {"digits_to_ints", accel_digits_to_ints, METH_O, "digits_to_ints(values) -> list of int or None"},
    {"handles", accel_handles, METH_O, "handles(values) -> [v.lstrip('@').casefold() for v in values]"},
    {"text_verdicts", accel_text_verdicts, METH_VARARGS, "text_verdicts(texts, handles, tags, need) -> bytes"},
    {"first_occurrences", accel_first_occurrences, METH_VARARGS,
     "first_occurrences(items, alive=None) -> bytes of 0/1"},
    {"prefixed", accel_prefixed, METH_VARARGS, "prefixed(prefix, values) -> [prefix + v for v in values]"},
    {"select", accel_select, METH_VARARGS, "select(columns, mask) -> [tuple(compress(c, mask)) for c in columns]"},
    {"split_ascii", accel_split_ascii, METH_VARARGS,
     "split_ascii(raw, start, kinds, max_row, digest) -> (sha256 or None, columns) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "draws._accel",
    .m_doc = "C acceleration of draws.leaves and draws.merkle (optional).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__accel(void) { return PyModule_Create(&module); }
