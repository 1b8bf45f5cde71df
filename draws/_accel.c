/* draws._accel: the leaf hashing of draws.leaves and draws.merkle in C (optional).
 *
 * Why: a million-entry draw costs about six SHA-256 compressions per entry (HMAC salt,
 * id commitment, leaf hash, Merkle node); in CPython each call costs a Python-level
 * round trip, in C it costs the compression alone (SHA-NI through OpenSSL). The answers
 * are those of the pure-Python functions, byte for byte (tests/draws/test_accel.py); the
 * pure code stays the reference and the fallback when this module is not built.
 *
 * build_leaves(host_secret, identities, weights) -> (leaves, order, salts, levels)
 *   as draws.leaves.build_leaves: salt = HMAC-SHA256(host_secret, id), id_commit =
 *   SHA-256(salt || id), leaf = id_commit || u64be(weight), sorted by (leaf, input index);
 *   `leaves` (list of 40-byte bytes) and `order` (list of int) in sorted order, `salts`
 *   one bytes object of 32-byte salts in *input* order, `levels` one bytes object per
 *   RFC 9162 level (leaf hashes first; an odd last node is promoted unchanged).
 * merkle_root(leaves) -> bytes: RFC 9162 MTH over raw leaves (as draws.merkle.merkle_root).
 *
 * The hashing and the sort run with the GIL released, on a private copy of the inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

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

/* Parent level of `count` nodes into `out`; returns the parent count. */
static size_t next_level(const unsigned char *level, size_t count, unsigned char *out) {
    size_t pairs = count / 2;
    unsigned char buf[1 + 2 * HASH];
    buf[0] = 0x01;
    for (size_t i = 0; i < pairs; i++) {
        memcpy(buf + 1, level + 2 * i * HASH, 2 * HASH);
        sha256(buf, sizeof buf, out + i * HASH);
    }
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
    SHA256_CTX inner0, outer0;
    for (int b = 0; b < 64; b++) pad[b] = key[b] ^ 0x36;
    SHA256_Init(&inner0);
    SHA256_Update(&inner0, pad, 64);
    for (int b = 0; b < 64; b++) pad[b] = key[b] ^ 0x5c;
    SHA256_Init(&outer0);
    SHA256_Update(&outer0, pad, 64);

    unsigned char *salt_out = (unsigned char *)PyBytes_AS_STRING(salts);
    int sort_failed;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        SHA256_CTX ctx = inner0;
        unsigned char inner[HASH];
        unsigned char *salt = salt_out + i * HASH;
        SHA256_Update(&ctx, id_ptr[i], id_len[i]);
        SHA256_Final(inner, &ctx);
        ctx = outer0;
        SHA256_Update(&ctx, inner, HASH);
        SHA256_Final(salt, &ctx);
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, salt, HASH);
        SHA256_Update(&ctx, id_ptr[i], id_len[i]);
        SHA256_Final(records[i].leaf, &ctx);
    }
    sort_failed = sort_records(records, sorted, n);
    if (!sort_failed)
        for (size_t i = 0; i < n; i++) hash_leaf(sorted[i].leaf, LEAF, hashes + i * HASH);
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
    unsigned char *level = PyMem_RawMalloc(n * HASH);
    PyObject *result = NULL;
    if (!ptr || !len || !level) {
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
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) hash_leaf((const unsigned char *)ptr[i], len[i], level + i * HASH);
    size_t count = n;
    while (count > 1) count = next_level(level, count, level); /* in place: parent i < child 2i */
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)level, HASH);
done:
    Py_DECREF(leaves);
    PyMem_RawFree(ptr);
    PyMem_RawFree(len);
    PyMem_RawFree(level);
    return result;
}

static PyMethodDef methods[] = {
    {"build_leaves", accel_build_leaves, METH_VARARGS,
     "build_leaves(host_secret, identities, weights) -> (leaves, order, salts, levels)"},
    {"merkle_root", accel_merkle_root, METH_O, "merkle_root(leaves) -> RFC 9162 root over raw leaves"},
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
