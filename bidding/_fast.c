/* bidding._fast: the common accepted English proxy bid, in C (optional; see setup.py).
 *
 * english_bid(stream, command, now) does what Stream.handle (bidding/base.py) does for
 * a PlaceBid that the English rules (bidding/english.py, EnglishFormat.decide) accept,
 * on a stream without a velocity rule or an exposure ledger, that is not a repeat:
 * the proxy outcome, the soft-close extension, the payload dict, the canonical body
 * bytes (byte-identical to orjson.dumps([...], option=OPT_SORT_KEYS)), SHA-256, the
 * SealedEnvelope (with _raw), the state update (EnglishFormat.evolve_trusted) and the
 * idempotency-memory update. It returns the 1-tuple of the envelope.
 *
 * Anything else (another command or format, a rejection, a repeat, a value this code
 * does not expect, any doubt) returns None *before changing anything*, and
 * Stream.handle carries on in Python, the reference. tests/bidding/test_fast.py runs
 * random command sequences through a stream with and one without this path and
 * requires identical events, bytes, hashes, rejections, states and memories.
 *
 * Objects are read and written through the member-descriptor offsets of the slotted
 * classes (Stream, EnglishState, EnglishParams, CloseRule), looked up once by setup().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <stdint.h>
#include <string.h>

/* bidding.canonical.MAX_INT: amounts are at most 2**53 - 1. */
#define MAX_INT ((long long)9007199254740991LL)

/* -- configuration set by setup() ------------------------------------------------- */

static int ready = 0;
static PyTypeObject *stream_type, *state_type, *params_type, *rule_type, *env_type, *command_type;
static PyTypeObject *deque_type;
static PyCFunction deque_append, deque_popleft; /* METH_O / METH_NOARGS */
static PyObject *base_globals; /* bidding.base.__dict__: IDEMPOTENCY_WINDOW is read per call */
static PyObject *open_status;  /* "open" */
static PyObject *fp_tag;       /* "bidding.base.PlaceBid", the fingerprint's type tag */

/* interned names */
static PyObject *s_bid, *s_bidder, *s_end, *s_leader, *s_max, *s_price, *s_reserve_met, *s_raw,
    *s_window_name;

/* slot offsets */
static Py_ssize_t st_state, st_stream_id, st_version, st_head, st_time, st_log, st_ledger, st_velocity,
    st_outcomes, st_logged;
static Py_ssize_t es_params, es_status, es_end, es_price, es_leader, es_leader_max, es_reserve_met, es_maxima,
    es_bids;
static Py_ssize_t ep_host, ep_opening, ep_reserve, ep_start, ep_close, ep_bounds, ep_steps;
static Py_ssize_t cr_soft, cr_window, cr_extension, cr_reset, cr_cap;

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* Replace a slot's value with the new reference v. */
static inline void slot_set(PyObject *o, Py_ssize_t off, PyObject *v) {
    PyObject **p = (PyObject **)((char *)o + off);
    PyObject *old = *p;
    *p = v;
    Py_XDECREF(old);
}

static int member_offset(PyTypeObject *cls, const char *name, Py_ssize_t *off) {
    PyObject *d = PyDict_GetItemString(cls->tp_dict, name); /* borrowed */
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", cls->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", cls->tp_name, name);
        return -1;
    }
    *off = m->offset;
    return 0;
}

static int need_type(PyObject *o, const char *what) {
    if (!PyType_Check(o)) {
        PyErr_Format(PyExc_TypeError, "setup: %s must be a class", what);
        return -1;
    }
    return 0;
}

static PyObject *setup(PyObject *self, PyObject *args) {
    PyObject *st, *es, *ep, *cr, *env, *cmd, *globals, *open, *tag, *dq;
    if (!PyArg_ParseTuple(args, "OOOOOOO!UUO!:setup", &st, &es, &ep, &cr, &env, &cmd, &PyDict_Type, &globals,
                          &open, &tag, &PyType_Type, &dq))
        return NULL;
    PyObject *app = PyDict_GetItemString(((PyTypeObject *)dq)->tp_dict, "append");
    PyObject *pop = PyDict_GetItemString(((PyTypeObject *)dq)->tp_dict, "popleft");
    if (app == NULL || pop == NULL || !Py_IS_TYPE(app, &PyMethodDescr_Type) ||
        !Py_IS_TYPE(pop, &PyMethodDescr_Type) ||
        ((PyMethodDescrObject *)app)->d_method->ml_flags != METH_O ||
        ((PyMethodDescrObject *)pop)->d_method->ml_flags != METH_NOARGS) {
        PyErr_SetString(PyExc_TypeError, "setup: the deque type must have C append/popleft");
        return NULL;
    }
    if (need_type(st, "stream") || need_type(es, "state") || need_type(ep, "params") || need_type(cr, "rule") ||
        need_type(env, "envelope") || need_type(cmd, "command"))
        return NULL;
    PyTypeObject *E = (PyTypeObject *)env;
    if (!PyType_IsSubtype(E, &PyTuple_Type) || E->tp_dictoffset == 0) {
        PyErr_SetString(PyExc_TypeError, "setup: the envelope must be a tuple subclass with a __dict__");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)cmd, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup: the command must be a tuple subclass");
        return NULL;
    }
    PyTypeObject *S = (PyTypeObject *)st, *ES = (PyTypeObject *)es, *EP = (PyTypeObject *)ep,
                 *CR = (PyTypeObject *)cr;
    if (member_offset(S, "state", &st_state) || member_offset(S, "stream_id", &st_stream_id) ||
        member_offset(S, "version", &st_version) || member_offset(S, "head", &st_head) ||
        member_offset(S, "time", &st_time) || member_offset(S, "log", &st_log) ||
        member_offset(S, "ledger", &st_ledger) || member_offset(S, "_velocity", &st_velocity) ||
        member_offset(S, "_outcomes", &st_outcomes) || member_offset(S, "_logged", &st_logged) ||
        member_offset(ES, "params", &es_params) || member_offset(ES, "status", &es_status) ||
        member_offset(ES, "end", &es_end) || member_offset(ES, "price", &es_price) ||
        member_offset(ES, "leader", &es_leader) || member_offset(ES, "leader_max", &es_leader_max) ||
        member_offset(ES, "reserve_met", &es_reserve_met) || member_offset(ES, "maxima", &es_maxima) ||
        member_offset(ES, "bids", &es_bids) || member_offset(EP, "host", &ep_host) ||
        member_offset(EP, "opening", &ep_opening) || member_offset(EP, "reserve", &ep_reserve) ||
        member_offset(EP, "start", &ep_start) || member_offset(EP, "close", &ep_close) ||
        member_offset(EP, "inc_bounds", &ep_bounds) || member_offset(EP, "inc_steps", &ep_steps) ||
        member_offset(CR, "soft", &cr_soft) || member_offset(CR, "window", &cr_window) ||
        member_offset(CR, "extension", &cr_extension) || member_offset(CR, "reset", &cr_reset) ||
        member_offset(CR, "cap", &cr_cap))
        return NULL;
    Py_INCREF(st);
    Py_INCREF(es);
    Py_INCREF(ep);
    Py_INCREF(cr);
    Py_INCREF(env);
    Py_INCREF(cmd);
    Py_INCREF(globals);
    Py_INCREF(open);
    Py_INCREF(tag);
    Py_INCREF(dq);
    Py_XSETREF(deque_type, (PyTypeObject *)dq);
    deque_append = ((PyMethodDescrObject *)app)->d_method->ml_meth;
    deque_popleft = ((PyMethodDescrObject *)pop)->d_method->ml_meth;
    Py_XSETREF(stream_type, S);
    Py_XSETREF(state_type, ES);
    Py_XSETREF(params_type, EP);
    Py_XSETREF(rule_type, CR);
    Py_XSETREF(env_type, E);
    Py_XSETREF(command_type, (PyTypeObject *)cmd);
    Py_XSETREF(base_globals, globals);
    Py_XSETREF(open_status, open);
    Py_XSETREF(fp_tag, tag);
    ready = 1;
    Py_RETURN_NONE;
}

/* -- helpers -------------------------------------------------------------------------- */

/* (a, b) where a and b are str/bytes/int or such pairs: such a tuple can be in no
 * reference cycle, so it is untracked by the cyclic GC at once (the GC would untrack it
 * at its first pass anyway, _PyTuple_MaybeUntrack); the memory keeps 10,000 of them. */
static inline PyObject *pair(PyObject *a, PyObject *b) {
    PyObject *t = PyTuple_New(2);
    if (t != NULL) {
        Py_INCREF(a);
        Py_INCREF(b);
        PyTuple_SET_ITEM(t, 0, a);
        PyTuple_SET_ITEM(t, 1, b);
        PyObject_GC_UnTrack(t);
    }
    return t;
}

/* An exact int that fits in a long long, else -1 (no exception left set). */
static inline int get_i64(PyObject *o, long long *out) {
    if (o == NULL || !PyLong_CheckExact(o))
        return -1;
#if PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    /* CPython 3.11 ints: sign in ob_size, 30-bit digits; one or two digits inline */
    Py_ssize_t size = Py_SIZE(o);
    const digit *d = ((PyLongObject *)o)->ob_digit;
    if (size >= -1 && size <= 1) {
        *out = (long long)size * (long long)d[0];
        return 0;
    }
    if (size == 2) {
        *out = (long long)d[0] | ((long long)d[1] << PyLong_SHIFT);
        return 0;
    }
#endif
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    *out = v;
    return 0;
}

/* Equality of two exact str objects (what == does for them). */
static inline int str_eq(PyObject *a, PyObject *b) {
    if (a == b)
        return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b))
        return 0;
    return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

/* steps[bisect_right(bounds, x)] (IncrementTable), or -1 on anything unexpected. */
static int increment(PyObject *bounds, PyObject *steps, long long x, long long *out) {
    if (!PyTuple_CheckExact(bounds) || !PyTuple_CheckExact(steps))
        return -1;
    Py_ssize_t lo = 0, hi = PyTuple_GET_SIZE(bounds);
    if (PyTuple_GET_SIZE(steps) != hi + 1)
        return -1;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        long long b;
        if (get_i64(PyTuple_GET_ITEM(bounds, mid), &b))
            return -1;
        if (x < b)
            hi = mid;
        else
            lo = mid + 1;
    }
    long long step;
    if (get_i64(PyTuple_GET_ITEM(steps, lo), &step) || step < 1 || step > MAX_INT)
        return -1;
    *out = step;
    return 0;
}

/* A JSON string as orjson writes it: UTF-8, escaping only '"', '\\' and control chars. */
typedef struct {
    const unsigned char *data;
    Py_ssize_t size; /* bytes of UTF-8 */
    Py_ssize_t json; /* bytes of the JSON string, quotes included */
} jstr;

/* Extra bytes orjson writes for each byte of UTF-8: \uXXXX for control characters but
 * the five short escapes, \" and \\. */
static unsigned char esc_extra[256];

static void init_esc(void) {
    for (int c = 0; c < 0x20; c++)
        esc_extra[c] = (c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r') ? 1 : 5;
    esc_extra['"'] = 1;
    esc_extra['\\'] = 1;
}

static int jstr_of(PyObject *s, jstr *j) {
    if (s == NULL || !PyUnicode_CheckExact(s))
        return -1;
    if (PyUnicode_IS_ASCII(s)) {
        j->data = PyUnicode_DATA(s);
        j->size = PyUnicode_GET_LENGTH(s);
    } else {
        j->data = (const unsigned char *)PyUnicode_AsUTF8AndSize(s, &j->size);
        if (j->data == NULL) { /* lone surrogates: orjson refuses them; let Python say so */
            PyErr_Clear();
            return -1;
        }
    }
    /* 8 bytes at a time: is any byte < 0x20, '"' or '\\'? (exact, no false negative) */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t i = 0;
    uint64_t hit = 0;
    for (; i + 8 <= j->size && !hit; i += 8) {
        uint64_t x, q, b;
        memcpy(&x, j->data + i, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        hit = (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
    }
    Py_ssize_t extra = 0;
    for (i = hit ? 0 : i; i < j->size; i++)
        extra += esc_extra[j->data[i]];
    j->json = j->size + 2 + extra;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

static char *put_jstr(char *o, const jstr *j) {
    *o++ = '"';
    if (j->json == j->size + 2) {
        memcpy(o, j->data, (size_t)j->size);
        o += j->size;
    } else {
        for (Py_ssize_t i = 0; i < j->size; i++) {
            unsigned char c = j->data[i];
            if (c >= 0x20 && c != '"' && c != '\\') {
                *o++ = (char)c;
                continue;
            }
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\t': *o++ = 't'; break;
            case '\n': *o++ = 'n'; break;
            case '\f': *o++ = 'f'; break;
            case '\r': *o++ = 'r'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = HEX[c >> 4];
                *o++ = HEX[c & 15];
            }
        }
    }
    *o++ = '"';
    return o;
}

static char pairs[200];     /* "00".."99" */
static char hexpairs[512];  /* "00".."ff" */

static void init_tables(void) {
    for (int i = 0; i < 100; i++) {
        pairs[2 * i] = (char)('0' + i / 10);
        pairs[2 * i + 1] = (char)('0' + i % 10);
    }
    for (int i = 0; i < 256; i++) {
        hexpairs[2 * i] = HEX[i >> 4];
        hexpairs[2 * i + 1] = HEX[i & 15];
    }
}

static char *put_int(char *o, long long v) {
    char tmp[24];
    char *end = tmp + sizeof(tmp), *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *o++ = '-';
    memcpy(o, p, (size_t)(end - p));
    return o + (end - p);
}

#define PUT(lit)                                                                                          \
    do {                                                                                                  \
        memcpy(o, lit, sizeof(lit) - 1);                                                                  \
        o += sizeof(lit) - 1;                                                                             \
    } while (0)

/* -- the fast path ------------------------------------------------------------------- */

#define FALLBACK() Py_RETURN_NONE

static PyObject *english_bid(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "english_bid(stream, command, now)");
        return NULL;
    }
    PyObject *stream = args[0], *cmd = args[1], *now_o = args[2];
    if (!ready || Py_TYPE(cmd) != command_type || Py_TYPE(stream) != stream_type ||
        PyTuple_GET_SIZE(cmd) != 3)
        FALLBACK();
    PyObject *cid = PyTuple_GET_ITEM(cmd, 0), *actor = PyTuple_GET_ITEM(cmd, 1),
             *amount_o = PyTuple_GET_ITEM(cmd, 2);
    long long now, amount;
    if (!PyUnicode_CheckExact(cid) || !PyUnicode_CheckExact(actor) || get_i64(now_o, &now) ||
        get_i64(amount_o, &amount) || now < 0 || now > MAX_INT || amount < 1 || amount > MAX_INT)
        FALLBACK();

    /* the stream: no velocity rule, no ledger, time moving forward */
    PyObject *state = SLOT(stream, st_state);
    PyObject *outcomes = SLOT(stream, st_outcomes), *logged = SLOT(stream, st_logged);
    PyObject *log = SLOT(stream, st_log);
    long long stime, version;
    if (SLOT(stream, st_velocity) != Py_None || SLOT(stream, st_ledger) != Py_None || state == NULL ||
        Py_TYPE(state) != state_type || outcomes == NULL || !PyDict_CheckExact(outcomes) || logged == NULL ||
        Py_TYPE(logged) != deque_type ||
        log == NULL || (log != Py_None && !PyList_CheckExact(log)) || get_i64(SLOT(stream, st_time), &stime) ||
        now < stime || get_i64(SLOT(stream, st_version), &version) || version < 0 || version >= MAX_INT)
        FALLBACK();

    /* the auction: open, inside its window, the bidder is not the host */
    PyObject *params = SLOT(state, es_params), *status = SLOT(state, es_status);
    long long end, start;
    if (params == NULL || Py_TYPE(params) != params_type || status == NULL || !PyUnicode_CheckExact(status) ||
        !str_eq(status, open_status) || get_i64(SLOT(state, es_end), &end) || now >= end ||
        get_i64(SLOT(params, ep_start), &start) || now < start)
        FALLBACK();
    PyObject *host = SLOT(params, ep_host);
    if (host == NULL || !PyUnicode_CheckExact(host) || str_eq(actor, host))
        FALLBACK();

    /* the proxy outcome (EnglishFormat.decide) */
    PyObject *leader = SLOT(state, es_leader), *maxima = SLOT(state, es_maxima);
    long long price, leader_max, opening, bids;
    if (leader == NULL || (leader != Py_None && !PyUnicode_CheckExact(leader)) || maxima == NULL ||
        !PyDict_CheckExact(maxima) || get_i64(SLOT(state, es_price), &price) ||
        get_i64(SLOT(state, es_leader_max), &leader_max) || get_i64(SLOT(state, es_bids), &bids) ||
        get_i64(SLOT(params, ep_opening), &opening))
        FALLBACK();
    PyObject *bounds = SLOT(params, ep_bounds), *steps = SLOT(params, ep_steps);
    long long new_price, lmax, step;
    PyObject *new_leader;
    int leader_changed;
    if (leader == Py_None) {
        if (amount < opening)
            FALLBACK();
        new_price = opening;
        new_leader = actor;
        lmax = amount;
        leader_changed = 1;
    } else if (str_eq(actor, leader)) {
        if (amount <= leader_max)
            FALLBACK();
        new_price = price;
        new_leader = leader;
        lmax = amount;
        leader_changed = 0;
    } else {
        if (increment(bounds, steps, price, &step) || amount < price + step)
            FALLBACK();
        lmax = leader_max;
        if (amount > lmax) {
            if (increment(bounds, steps, lmax, &step))
                FALLBACK();
            long long second = lmax + step;
            new_price = amount < second ? amount : second;
            new_leader = actor;
            lmax = amount;
            leader_changed = 1;
        } else {
            if (increment(bounds, steps, amount, &step))
                FALLBACK();
            long long second = amount + step;
            new_price = lmax < second ? lmax : second;
            new_leader = leader;
            leader_changed = 0;
        }
    }
    PyObject *reserve_o = SLOT(params, ep_reserve);
    int met;
    if (reserve_o == Py_None) {
        met = 1;
    } else {
        long long reserve;
        if (get_i64(reserve_o, &reserve))
            FALLBACK();
        if (lmax >= reserve) {
            met = 1;
            if (new_price < reserve)
                new_price = reserve;
        } else {
            met = 0;
        }
    }

    /* soft close (CloseRule.extended_end): only a bid that changes price or leader */
    PyObject *rule = SLOT(params, ep_close);
    if (rule == NULL || Py_TYPE(rule) != rule_type)
        FALLBACK();
    PyObject *soft = SLOT(rule, cr_soft);
    long long new_end = end;
    if (soft == Py_True) {
        long long window, extension;
        if (get_i64(SLOT(rule, cr_window), &window) || get_i64(SLOT(rule, cr_extension), &extension))
            FALLBACK();
        if (now >= end - window && (new_price != price || leader_changed)) {
            PyObject *reset = SLOT(rule, cr_reset), *cap_o = SLOT(rule, cr_cap);
            long long n;
            if (reset != Py_True && reset != Py_False)
                FALLBACK();
            if (__builtin_add_overflow(reset == Py_True ? now : end, extension, &n))
                FALLBACK();
            if (cap_o != Py_None) {
                long long cap;
                if (get_i64(cap_o, &cap))
                    FALLBACK();
                if (n > cap)
                    n = cap;
            }
            if (n > end)
                new_end = n;
        }
    } else if (soft != Py_False) {
        FALLBACK();
    }

    /* not a repeat (Stream._repeat answers those) */
    PyObject *key = pair(actor, cid);
    if (key == NULL)
        return NULL;
    Py_hash_t key_hash = PyObject_Hash(key);
    if (key_hash == -1) {
        Py_DECREF(key);
        return NULL;
    }
    PyObject *prior = _PyDict_GetItem_KnownHash(outcomes, key, key_hash);
    if (prior != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        if (prior == NULL)
            return NULL;
        FALLBACK();
    }
    PyObject *window_o = PyDict_GetItemWithError(base_globals, s_window_name);
    Py_ssize_t window = window_o == NULL ? -1 : PyLong_AsSsize_t(window_o);
    if (window < 0) {
        Py_DECREF(key);
        if (PyErr_Occurred())
            return NULL;
        FALLBACK();
    }

    /* the canonical body: [stream_id,seq,prev_hash,time,"bid",actor,command_id,payload] */
    PyObject *stream_id = SLOT(stream, st_stream_id), *head = SLOT(stream, st_head);
    jstr j_sid, j_head, j_actor, j_cid, j_leader;
    if (jstr_of(stream_id, &j_sid) || jstr_of(head, &j_head) || jstr_of(actor, &j_actor) ||
        jstr_of(cid, &j_cid) || jstr_of(new_leader, &j_leader)) {
        Py_DECREF(key);
        FALLBACK();
    }
    long long seq = version + 1;
    Py_ssize_t cap = j_sid.json + j_head.json + 2 * j_actor.json + j_cid.json + j_leader.json + 6 * 21 + 128;
    char stackbuf[1024];
    char *buf = cap <= (Py_ssize_t)sizeof(stackbuf) ? stackbuf : PyMem_Malloc((size_t)cap);
    if (buf == NULL) {
        Py_DECREF(key);
        return PyErr_NoMemory();
    }
    char *o = buf;
    *o++ = '[';
    o = put_jstr(o, &j_sid);
    *o++ = ',';
    o = put_int(o, seq);
    *o++ = ',';
    o = put_jstr(o, &j_head);
    *o++ = ',';
    o = put_int(o, now);
    PUT(",\"bid\",");
    o = put_jstr(o, &j_actor);
    *o++ = ',';
    o = put_jstr(o, &j_cid);
    PUT(",{\"bidder\":");
    o = put_jstr(o, &j_actor);
    PUT(",\"end\":");
    o = put_int(o, new_end);
    PUT(",\"leader\":");
    o = put_jstr(o, &j_leader);
    PUT(",\"max\":");
    o = put_int(o, amount);
    PUT(",\"price\":");
    o = put_int(o, new_price);
    if (met)
        PUT(",\"reserve_met\":true}]");
    else
        PUT(",\"reserve_met\":false}]");
    PyObject *raw = PyBytes_FromStringAndSize(buf, o - buf);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (raw != NULL) {
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, buf, (size_t)(o - buf));
        SHA256_Final(digest, &ctx);
    }
    if (buf != stackbuf)
        PyMem_Free(buf);
    if (raw == NULL) {
        Py_DECREF(key);
        return NULL;
    }

    /* the objects: hash, payload, envelope (nothing is changed yet) */
    PyObject *hash = PyUnicode_New(64, 127);
    PyObject *seq_o = PyLong_FromLongLong(seq);
    PyObject *end_o = PyLong_FromLongLong(new_end);
    PyObject *price_o = PyLong_FromLongLong(new_price);
    PyObject *bids_o = PyLong_FromLongLong(bids + 1);
    PyObject *payload = _PyDict_NewPresized(6);
    PyObject *env = NULL, *result = NULL, *entry = NULL, *fresh = NULL;
    if (hash == NULL || seq_o == NULL || end_o == NULL || price_o == NULL || bids_o == NULL || payload == NULL)
        goto error;
    Py_UCS1 *h = PyUnicode_1BYTE_DATA(hash);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        memcpy(h + 2 * i, hexpairs + 2 * digest[i], 2);
    PyObject *met_o = met ? Py_True : Py_False;
    if (PyDict_SetItem(payload, s_bidder, actor) || PyDict_SetItem(payload, s_end, end_o) ||
        PyDict_SetItem(payload, s_leader, new_leader) || PyDict_SetItem(payload, s_max, amount_o) ||
        PyDict_SetItem(payload, s_price, price_o) || PyDict_SetItem(payload, s_reserve_met, met_o))
        goto error;
    env = env_type->tp_alloc(env_type, 9);
    if (env == NULL)
        goto error;
    PyObject *fields[9] = {stream_id, seq_o, head, now_o, s_bid, actor, cid, payload, hash};
    for (int i = 0; i < 9; i++) {
        Py_INCREF(fields[i]);
        PyTuple_SET_ITEM(env, i, fields[i]);
    }
    {
        PyObject **dictptr = _PyObject_GetDictPtr(env);
        PyObject *dict = PyDict_New();
        if (dictptr == NULL || dict == NULL || PyDict_SetItem(dict, s_raw, raw)) {
            Py_XDECREF(dict);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_SystemError, "envelope without an instance dict");
            goto error;
        }
        *dictptr = dict;
    }
    result = PyTuple_Pack(1, env);
    PyObject *fingerprint = PyTuple_Pack(4, fp_tag, cid, actor, amount_o);
    if (fingerprint != NULL)
        PyObject_GC_UnTrack(fingerprint); /* str, str, str, int: as pair() */
    PyObject *frozen = pair(raw, hash);
    if (fingerprint != NULL && frozen != NULL)
        entry = pair(fingerprint, frozen);
    Py_XDECREF(fingerprint);
    Py_XDECREF(frozen);
    fresh = pair(amount_o, seq_o);
    if (result == NULL || entry == NULL || fresh == NULL)
        goto error;

    /* apply (EnglishFormat.evolve_trusted, then Stream.handle's bookkeeping) */
    if (PyDict_SetItem(maxima, actor, fresh))
        goto error;
    Py_CLEAR(fresh);
    if (str_eq(new_leader, actor)) {
        Py_INCREF(actor);
        slot_set(state, es_leader, actor);
        Py_INCREF(amount_o);
        slot_set(state, es_leader_max, amount_o);
    }
    slot_set(state, es_price, price_o);
    price_o = NULL;
    Py_INCREF(met_o);
    slot_set(state, es_reserve_met, met_o);
    slot_set(state, es_end, end_o);
    end_o = NULL;
    slot_set(state, es_bids, bids_o);
    bids_o = NULL;
    if (log != Py_None && PyList_Append(log, env))
        goto error;
    Py_INCREF(seq_o);
    slot_set(stream, st_version, seq_o);
    Py_INCREF(hash);
    slot_set(stream, st_head, hash);
    Py_INCREF(now_o);
    slot_set(stream, st_time, now_o);
    Py_ssize_t n_logged = PyObject_Size(logged);
    if (n_logged < 0)
        goto error;
    if (n_logged >= window) {
        PyObject *old = deque_popleft(logged, NULL);
        if (old == NULL)
            goto error;
        int rc = PyDict_DelItem(outcomes, old);
        Py_DECREF(old);
        if (rc)
            goto error;
    }
    PyObject *r = deque_append(logged, key);
    if (r == NULL)
        goto error;
    Py_DECREF(r);
    if (_PyDict_SetItem_KnownHash(outcomes, key, entry, key_hash))
        goto error;
    Py_DECREF(entry);
    Py_DECREF(key);
    Py_DECREF(raw);
    Py_DECREF(hash);
    Py_DECREF(seq_o);
    Py_DECREF(payload);
    Py_DECREF(env);
    return result;

error:
    Py_XDECREF(key);
    Py_XDECREF(raw);
    Py_XDECREF(hash);
    Py_XDECREF(seq_o);
    Py_XDECREF(end_o);
    Py_XDECREF(price_o);
    Py_XDECREF(bids_o);
    Py_XDECREF(payload);
    Py_XDECREF(env);
    Py_XDECREF(result);
    Py_XDECREF(entry);
    Py_XDECREF(fresh);
    return NULL;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(Stream, EnglishState, EnglishParams, CloseRule, SealedEnvelope, PlaceBid, base_globals, "
     "open_status, fingerprint_tag, deque): bind the classes (called once by bidding.english)."},
    {"english_bid", (PyCFunction)(void (*)(void))english_bid, METH_FASTCALL,
     "english_bid(stream, command, now) -> (envelope,) for an accepted English proxy bid, else None "
     "(nothing changed: Stream.handle goes on in Python)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "bidding._fast", "C fast path for accepted English bids (see bidding/_fast.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

#define INTERN(var, text)                                                                                 \
    do {                                                                                                  \
        if ((var = PyUnicode_InternFromString(text)) == NULL)                                             \
            return NULL;                                                                                  \
    } while (0)

PyMODINIT_FUNC PyInit__fast(void) {
    init_esc();
    init_tables();
    INTERN(s_bid, "bid");
    INTERN(s_bidder, "bidder");
    INTERN(s_end, "end");
    INTERN(s_leader, "leader");
    INTERN(s_max, "max");
    INTERN(s_price, "price");
    INTERN(s_reserve_met, "reserve_met");
    INTERN(s_raw, "_raw");
    INTERN(s_window_name, "IDEMPOTENCY_WINDOW");
    return PyModule_Create(&module);
}
