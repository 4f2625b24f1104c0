/* inwatch.inotify._accel: the optional compiled accelerator of the inotify hot path.
 *
 * Two functions, each the C twin of a Python one that stays the reference:
 *
 * - parse_flat(buf): wire.parse_flat_py, the parser (same flat list, same
 *   EventParseError message and offset); tests/unit/test_accel_parse.py
 *   fuzzes the two against each other.
 * - dispatch(...): the per-record loop of core.InotifyCore._dispatch. It
 *   walks the read's flat records (the same list iterator the Python loop
 *   walks, so the look-ahead of inotify/news.py sees the same position), and
 *   does in C only what the Python loop does inline: paths.get(wd), the
 *   plain-file CREATE/DELETE update of `files`, the decode of the name and
 *   the Event. Everything else calls back into the same Python methods
 *   (_settles, _slow, _known_dir, _known_file, emit_one, _overflow) at the
 *   same places, in the same order. The comments "[core: ...]" quote the
 *   Python line each block stands for.
 *
 * Events are made as core.py makes them (object.__new__(Event), then a store
 * per slot): tp_alloc, then each slot written at the offset its member
 * descriptor gives. bind() finds the offsets once and refuses an Event class
 * whose slots are not the ten expected: the loader (inwatch/accel.py) then
 * falls back to pure Python and says why.
 *
 * The module keeps process-wide state (the bound classes and offsets):
 * single-phase init, one interpreter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX, READONLY (Py_T_OBJECT_EX from 3.12 on) */
#include <stdint.h>
#include <string.h>

/* The kernel's bits (inotify(7)); core.py spells the same constants. */
#define IN_MOVED_FROM 0x40u
#define IN_MOVED_TO 0x80u
#define IN_CREATE 0x100u
#define IN_DELETE 0x200u
#define IN_MOVE_SELF 0x800u
#define IN_UNMOUNT 0x2000u
#define IN_Q_OVERFLOW 0x4000u
#define IN_IGNORED 0x8000u
#define IN_ISDIR 0x40000000u
/* core._SLOW: events that touch the table, the file baseline or the move pairer. */
#define SLOW                                                                          \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_IGNORED | IN_Q_OVERFLOW | \
     IN_MOVE_SELF | IN_UNMOUNT)
/* core._NOT_PLAIN_FILE: any bit but CREATE and DELETE sends it down the slow path. */
#define NOT_PLAIN_FILE (~(IN_CREATE | IN_DELETE))

/* struct inotify_event: int wd; uint32_t mask, cookie, len; char name[len]. */
#define HEADER_SIZE 16

/* Event's slots, by role; offsets found by bind(). */
enum { S_WD, S_MASK, S_COOKIE, S_NAME, S_PATH, S_PATHNAME, S_SRC, S_ORIGIN, S_TIME, S_ACTOR, N_SLOTS };
static const char *const slot_names[N_SLOTS] = {
    "wd", "mask", "cookie", "name", "path", "pathname", "src_pathname", "origin", "time", "actor",
};

static PyObject *parse_error = NULL;      /* inwatch.errors.EventParseError */
static PyTypeObject *event_type = NULL;   /* inwatch.event.Event */
static Py_ssize_t slot_offset[N_SLOTS];
static PyObject *str_kernel = NULL;       /* "kernel" (interned, as the Python constant) */
static PyObject *str_slash = NULL;        /* "/" */
/* Method names of InotifyCore the loop calls back (interned). */
static PyObject *m_overflow, *m_settles, *m_slow, *m_known_dir, *m_known_file, *m_emit_one;
static PyObject *m_add, *m_discard;

/* --- parse_flat ------------------------------------------------------------ */

static PyObject *
raise_parse_error(PyObject *message, size_t offset)
{
    if (message == NULL)
        return NULL;
    PyObject *exc = PyObject_CallFunction(parse_error, "(On)", message, (Py_ssize_t)offset);
    Py_DECREF(message);
    if (exc != NULL) {
        PyErr_SetObject(parse_error, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static uint32_t
load_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* native byte order, like struct's "=" */
    return v;
}

PyDoc_STRVAR(parse_flat_doc,
             "parse_flat(buf) -> list\n\n"
             "wire.parse_flat_py in C: the records of buf as one flat list\n"
             "[wd, mask, cookie, name, ...]; EventParseError if buf ends inside a record.");

static PyObject *
parse_flat(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (parse_error == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "inwatch.inotify._accel: bind() was not called");
        return NULL;
    }
    /* [wire: if type(buf) is not bytes: buf = bytes(buf)] */
    PyObject *buf;
    if (PyBytes_CheckExact(arg)) {
        Py_INCREF(arg);
        buf = arg;
    }
    else {
        buf = PyObject_CallOneArg((PyObject *)&PyBytes_Type, arg);
        if (buf == NULL)
            return NULL;
    }
    const char *p = PyBytes_AS_STRING(buf);
    const size_t end = (size_t)PyBytes_GET_SIZE(buf);

    /* Pass 1: validate the whole read and count its records, so that a corrupt
     * read raises before anything of it is used (as the pure parser does: it
     * raises before returning) and the list is allocated once. */
    size_t offset = 0, count = 0;
    while (offset < end) {
        if (end - offset < HEADER_SIZE) {
            PyObject *msg = PyUnicode_FromFormat(
                "truncated inotify event: %zu bytes left at offset %zu, a header needs %d",
                end - offset, offset, HEADER_SIZE);
            Py_DECREF(buf);
            return raise_parse_error(msg, offset);
        }
        uint32_t length = load_u32(p + offset + 12);
        if ((uint64_t)length > (uint64_t)(end - offset - HEADER_SIZE)) {
            PyObject *msg = PyUnicode_FromFormat(
                "truncated inotify event: name of %lu bytes at offset %zu "
                "runs past the end of a %zu-byte buffer",
                (unsigned long)length, offset + HEADER_SIZE, end);
            Py_DECREF(buf);
            return raise_parse_error(msg, offset);
        }
        offset += HEADER_SIZE + (size_t)length;
        count++;
    }
    if (count > (size_t)(PY_SSIZE_T_MAX / 4)) {
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }

    /* Pass 2: the objects. */
    PyObject *flat = PyList_New((Py_ssize_t)(4 * count));
    if (flat == NULL) {
        Py_DECREF(buf);
        return NULL;
    }
    offset = 0;
    for (size_t i = 0; i < count; i++) {
        int32_t wd;
        memcpy(&wd, p + offset, sizeof wd);
        uint32_t mask = load_u32(p + offset + 4);
        uint32_t cookie = load_u32(p + offset + 8);
        uint32_t length = load_u32(p + offset + 12);
        const char *name = p + offset + HEADER_SIZE;
        /* [wire: buf[offset : offset + length].rstrip(b"\0")]: the kernel pads
         * names with NULs, and a name never contains one. */
        size_t n = length;
        while (n > 0 && name[n - 1] == '\0')
            n--;
        PyObject *o_wd = PyLong_FromLong((long)wd);
        PyObject *o_mask = PyLong_FromUnsignedLong((unsigned long)mask);
        PyObject *o_cookie = PyLong_FromUnsignedLong((unsigned long)cookie);
        PyObject *o_name = PyBytes_FromStringAndSize(name, (Py_ssize_t)n);
        /* The list owns whatever was made (PyList_SET_ITEM steals; NULL slots
         * are fine for its dealloc). */
        PyList_SET_ITEM(flat, 4 * i, o_wd);
        PyList_SET_ITEM(flat, 4 * i + 1, o_mask);
        PyList_SET_ITEM(flat, 4 * i + 2, o_cookie);
        PyList_SET_ITEM(flat, 4 * i + 3, o_name);
        if (o_wd == NULL || o_mask == NULL || o_cookie == NULL || o_name == NULL) {
            Py_DECREF(flat);
            Py_DECREF(buf);
            return NULL;
        }
        offset += HEADER_SIZE + (size_t)length;
    }
    Py_DECREF(buf);
    return flat;
}

/* --- Event, without __init__ ------------------------------------------------ */

/* [core: ev = alloc(new); ev.wd = wd; ... ev.actor = None]: every slot, in
 * core's order. Steals *pathname* (a new reference), whatever happens. */
static PyObject *
new_event(PyObject *wd, PyObject *mask, PyObject *cookie, PyObject *name, PyObject *path,
          PyObject *pathname, PyObject *now)
{
    PyObject *ev = event_type->tp_alloc(event_type, 0);
    if (ev == NULL) {
        Py_DECREF(pathname);
        return NULL;
    }
    char *base = (char *)ev;
#define STORE(slot, value)                                                 \
    do {                                                                   \
        PyObject *v_ = (value);                                            \
        Py_INCREF(v_);                                                     \
        *(PyObject **)(base + slot_offset[slot]) = v_;                     \
    } while (0)
    STORE(S_WD, wd);
    STORE(S_MASK, mask);
    STORE(S_COOKIE, cookie);
    STORE(S_NAME, name);
    STORE(S_PATH, path);
    *(PyObject **)(base + slot_offset[S_PATHNAME]) = pathname; /* stolen */
    STORE(S_SRC, Py_None);
    STORE(S_ORIGIN, str_kernel);
    STORE(S_TIME, now);
    STORE(S_ACTOR, Py_None);
#undef STORE
    return ev;
}

/* [core: path + "/" + sname]: one allocation when both are str. */
static PyObject *
join(PyObject *path, PyObject *name)
{
    if (PyUnicode_CheckExact(path) && PyUnicode_CheckExact(name)) {
        Py_ssize_t lp = PyUnicode_GET_LENGTH(path), ln = PyUnicode_GET_LENGTH(name);
        Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(path);
        if (PyUnicode_MAX_CHAR_VALUE(name) > maxchar)
            maxchar = PyUnicode_MAX_CHAR_VALUE(name);
        PyObject *out = PyUnicode_New(lp + 1 + ln, maxchar);
        if (out == NULL)
            return NULL;
        if (PyUnicode_CopyCharacters(out, 0, path, 0, lp) < 0 ||
            PyUnicode_WriteChar(out, lp, '/') < 0 ||
            PyUnicode_CopyCharacters(out, lp + 1, name, 0, ln) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        return out;
    }
    PyObject *head = PyNumber_Add(path, str_slash);
    if (head == NULL)
        return NULL;
    PyObject *out = PyNumber_Add(head, name);
    Py_DECREF(head);
    return out;
}

/* [core: name.decode("utf-8", "surrogateescape")] */
static PyObject *
decode(PyObject *name)
{
    if (!PyBytes_Check(name)) {
        PyErr_Format(PyExc_TypeError, "inotify record name must be bytes, not %.100s",
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name),
                                "surrogateescape");
}

/* core.<method>(*args): a new reference, NULL on error. */
static PyObject *
call(PyObject *core, PyObject *method, PyObject *a1, PyObject *a2, PyObject *a3, PyObject *a4,
     PyObject *a5, PyObject *a6, size_t nargs)
{
    PyObject *args[7] = {core, a1, a2, a3, a4, a5, a6};
    return PyObject_VectorcallMethod(method, args, (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     NULL);
}

/* truth of a new reference, which it releases: -1 on error. */
static int
truth_of(PyObject *result)
{
    if (result == NULL)
        return -1;
    int r = PyObject_IsTrue(result);
    Py_DECREF(result);
    return r;
}

/* `x in names` and `names.add(x)` / `names.discard(x)` for a set (the case
 * core.py makes) or any object with those methods. */
static int
contains(PyObject *names, PyObject *x)
{
    return Py_IS_TYPE(names, &PySet_Type) ? PySet_Contains(names, x) : PySequence_Contains(names, x);
}

static int
set_op(PyObject *names, PyObject *method, PyObject *x)
{
    if (Py_IS_TYPE(names, &PySet_Type)) {
        if (method == m_add)
            return PySet_Add(names, x);
        return PySet_Discard(names, x) < 0 ? -1 : 0;
    }
    PyObject *r = PyObject_CallMethodOneArg(names, method, x);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* dict.get(key) as a new reference (NULL and no error: absent). */
static PyObject *
dict_get(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    Py_XINCREF(v);
    return v;
}

/* --- dispatch --------------------------------------------------------------- */

PyDoc_STRVAR(dispatch_doc,
             "dispatch(core, emit, out, it, quota, paths, special, files, held_items, echo,\n"
             "         relisted, started, now) -> None\n\n"
             "The per-record loop of InotifyCore._dispatch in C: up to quota records off\n"
             "the flat iterator it, the events appended to out.");

static PyObject *
dispatch(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 13) {
        PyErr_Format(PyExc_TypeError, "dispatch() takes 13 arguments (%zd given)", nargs);
        return NULL;
    }
    if (event_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "inwatch.inotify._accel: bind() was not called");
        return NULL;
    }
    PyObject *core = args[0], *emit = args[1], *out = args[2], *it = args[3];
    PyObject *paths = args[5], *special = args[6], *files = args[7];
    PyObject *held_items = args[8], *echo = args[9], *relisted = args[10];
    PyObject *started = args[11], *now = args[12];
    Py_ssize_t quota = PyLong_AsSsize_t(args[4]);
    if (quota == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_CheckExact(out) || !PyDict_CheckExact(paths) || !PyDict_CheckExact(files) ||
        !PyDict_CheckExact(special)) {
        PyErr_SetString(PyExc_TypeError,
                        "dispatch(): out must be a list, paths, special and files dicts");
        return NULL;
    }
    iternextfunc next = Py_TYPE(it)->tp_iternext;
    if (next == NULL) {
        PyErr_SetString(PyExc_TypeError, "dispatch(): it must be an iterator");
        return NULL;
    }

    /* [core: for wd, mask, cookie, name in islice(records, quota):] */
    for (Py_ssize_t i = 0; i < quota; i++) {
        PyObject *wd = NULL, *mask = NULL, *cookie = NULL, *name = NULL;
        PyObject *path = NULL, *sname = NULL, *names = NULL, *ev = NULL;
        int r;
        wd = next(it);
        if (wd == NULL)
            break; /* the read is done (or the iterator failed: checked below) */
        mask = next(it);
        cookie = mask ? next(it) : NULL;
        name = cookie ? next(it) : NULL;
        if (name == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError,
                                "dispatch(): the flat records are not a multiple of 4");
            goto error;
        }
        unsigned long m = PyLong_AsUnsignedLong(mask);
        if (m == (unsigned long)-1 && PyErr_Occurred())
            goto error;

        /* [core: path = paths.get(wd)] (a reference of our own: a callback may
         * drop the watch) */
        path = dict_get(paths, wd);
        if (path == NULL) {
            if (PyErr_Occurred())
                goto error;
            /* [core: if mask & _Q_OVERFLOW: self._overflow(emit)] */
            if (m & IN_Q_OVERFLOW) {
                PyObject *res = call(core, m_overflow, emit, NULL, NULL, NULL, NULL, NULL, 1);
                if (res == NULL)
                    goto error;
                Py_DECREF(res);
            }
            goto next_record; /* a watch we already dropped */
        }
        /* [core: if (held_items or echo or relisted) and self._settles(...): continue] */
        {
            int any = PyObject_IsTrue(held_items);
            if (any == 0)
                any = PyObject_IsTrue(echo);
            if (any == 0)
                any = PyObject_IsTrue(relisted);
            if (any < 0)
                goto error;
            if (any) {
                r = truth_of(call(core, m_settles, wd, mask, name, emit, started, NULL, 5));
                if (r < 0)
                    goto error;
                if (r)
                    goto next_record; /* our own listing's echo */
            }
        }
        /* [core: if mask & slow:] */
        if (m & SLOW) {
            /* [core: if special or mask & not_plain_file: self._slow(...); continue] */
            if (PyDict_GET_SIZE(special) || (m & NOT_PLAIN_FILE)) {
                PyObject *res = call(core, m_slow, wd, mask, cookie, name, path, emit, 6);
                if (res == NULL)
                    goto error;
                Py_DECREF(res);
                goto next_record;
            }
            /* A file created or deleted in a plain tree: keep the baseline. */
            sname = decode(name);
            if (sname == NULL)
                goto error;
            names = dict_get(files, wd);
            if (names == NULL && PyErr_Occurred())
                goto error;
            if (m & IN_CREATE) {
                if (names == NULL) {
                    /* [core: files[wd] = {sname}] */
                    PyObject *fresh = PySet_New(NULL);
                    if (fresh == NULL)
                        goto error;
                    if (PySet_Add(fresh, sname) < 0 || PyDict_SetItem(files, wd, fresh) < 0) {
                        Py_DECREF(fresh);
                        goto error;
                    }
                    Py_DECREF(fresh);
                }
                else if (set_op(names, m_add, sname) < 0) /* [core: names.add(sname)] */
                    goto error;
            }
            else {
                /* [core: elif names is not None and sname in names: names.discard(sname)] */
                r = names == NULL ? 0 : contains(names, sname);
                if (r < 0)
                    goto error;
                if (!r)
                    goto next_record; /* never reported: there before our watch, gone
                                       * before our listing */
                if (set_op(names, m_discard, sname) < 0)
                    goto error;
            }
            PyObject *pathname = join(path, sname);
            if (pathname == NULL)
                goto error;
            ev = new_event(wd, mask, cookie, sname, path, pathname, now);
            if (ev == NULL || PyList_Append(out, ev) < 0) /* [core: emit(ev)] */
                goto error;
            goto next_record;
        }
        /* [core: sname = name.decode("utf-8", "surrogateescape")] */
        sname = decode(name);
        if (sname == NULL)
            goto error;
        if (PyUnicode_GET_LENGTH(sname)) {
            if (m & IN_ISDIR) {
                /* [core: if not self._known_dir(wd, sname, path): continue] */
                r = truth_of(call(core, m_known_dir, wd, sname, path, NULL, NULL, NULL, 3));
                if (r < 0)
                    goto error;
                if (!r)
                    goto next_record; /* a directory never reported here */
            }
            else {
                /* [core: if (names is None or sname not in names) and not
                 *        self._known_file(wd, sname, path): continue] */
                names = dict_get(files, wd);
                if (names == NULL && PyErr_Occurred())
                    goto error;
                r = names == NULL ? 0 : contains(names, sname);
                if (r < 0)
                    goto error;
                if (!r) {
                    r = truth_of(call(core, m_known_file, wd, sname, path, NULL, NULL, NULL, 3));
                    if (r < 0)
                        goto error;
                    if (!r)
                        goto next_record; /* a file never reported here */
                }
            }
        }
        /* [core: if special: root = special.get(wd); if root is not None: emit_one] */
        if (PyDict_GET_SIZE(special)) {
            PyObject *root = PyDict_GetItemWithError(special, wd); /* only compared */
            if (root == NULL && PyErr_Occurred())
                goto error;
            if (root != NULL && root != Py_None) {
                PyObject *res = call(core, m_emit_one, emit, wd, mask, cookie, sname, path, 6);
                if (res == NULL)
                    goto error;
                Py_DECREF(res);
                goto next_record;
            }
        }
        /* [core: ev.pathname = path + "/" + sname if sname else path] */
        {
            PyObject *pathname;
            if (PyUnicode_GET_LENGTH(sname))
                pathname = join(path, sname);
            else {
                Py_INCREF(path);
                pathname = path;
            }
            if (pathname == NULL)
                goto error;
            ev = new_event(wd, mask, cookie, sname, path, pathname, now);
            if (ev == NULL || PyList_Append(out, ev) < 0) /* [core: emit(ev)] */
                goto error;
        }
    next_record:
        Py_DECREF(wd);
        Py_DECREF(mask);
        Py_DECREF(cookie);
        Py_DECREF(name);
        Py_XDECREF(path);
        Py_XDECREF(sname);
        Py_XDECREF(names);
        Py_XDECREF(ev);
        continue;
    error:
        Py_XDECREF(wd);
        Py_XDECREF(mask);
        Py_XDECREF(cookie);
        Py_XDECREF(name);
        Py_XDECREF(path);
        Py_XDECREF(sname);
        Py_XDECREF(names);
        Py_XDECREF(ev);
        return NULL;
    }
    if (PyErr_Occurred()) /* the iterator's own failure, not its end */
        return NULL;
    Py_RETURN_NONE;
}

/* --- bind: the classes, and Event's layout checked ----------------------------- */

PyDoc_STRVAR(bind_doc,
             "bind(EventParseError, Event) -> None\n\n"
             "Give the module the classes it makes; TypeError if Event's slots are not\n"
             "the ten this module stores (the loader then falls back to pure Python).");

static PyObject *
bind(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "bind() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *error_cls = args[0], *cls = args[1];
    if (!PyType_Check(error_cls) || !PyType_IsSubtype((PyTypeObject *)error_cls,
                                                      (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "bind(): EventParseError must be an exception class");
        return NULL;
    }
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind(): Event must be a class");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    /* The set of slots must be exactly the ten stored (no more: one left NULL
     * would raise AttributeError on read; none fewer). */
    PyObject *declared = PyObject_GetAttrString(cls, "__slots__");
    if (declared == NULL)
        return NULL;
    PyObject *have = PySequence_List(declared);
    Py_DECREF(declared);
    if (have == NULL)
        return NULL;
    PyObject *want = PyList_New(N_SLOTS);
    if (want == NULL) {
        Py_DECREF(have);
        return NULL;
    }
    for (int i = 0; i < N_SLOTS; i++) {
        PyObject *s = PyUnicode_FromString(slot_names[i]);
        if (s == NULL) {
            Py_DECREF(have);
            Py_DECREF(want);
            return NULL;
        }
        PyList_SET_ITEM(want, i, s);
    }
    int same = -1;
    if (PyList_Sort(have) == 0 && PyList_Sort(want) == 0)
        same = PyObject_RichCompareBool(have, want, Py_EQ);
    if (same == 0)
        PyErr_Format(PyExc_TypeError,
                     "Event.__slots__ is %R, the accelerator stores %R: rebuild it", have, want);
    Py_DECREF(have);
    Py_DECREF(want);
    if (same != 1)
        return NULL;
    if (type->tp_alloc == NULL) {
        PyErr_SetString(PyExc_TypeError, "bind(): Event has no tp_alloc");
        return NULL;
    }
    Py_ssize_t offsets[N_SLOTS];
    for (int i = 0; i < N_SLOTS; i++) {
        PyObject *descr = PyObject_GetAttrString(cls, slot_names[i]);
        if (descr == NULL)
            return NULL;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyDescrObject *)descr)->d_type == type;
        if (ok) {
            PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
            ok = def->type == T_OBJECT_EX && !(def->flags & READONLY) &&
                 def->offset >= (Py_ssize_t)sizeof(PyObject) &&
                 def->offset + (Py_ssize_t)sizeof(PyObject *) <= type->tp_basicsize;
            offsets[i] = def->offset;
        }
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError,
                         "Event.%s is not a plain object slot of Event itself: "
                         "the accelerator cannot store it", slot_names[i]);
            return NULL;
        }
    }
    for (int i = 0; i < N_SLOTS; i++)
        for (int j = i + 1; j < N_SLOTS; j++)
            if (offsets[i] == offsets[j]) {
                PyErr_SetString(PyExc_TypeError, "bind(): two Event slots share an offset");
                return NULL;
            }
    memcpy(slot_offset, offsets, sizeof offsets);
    Py_INCREF(error_cls);
    Py_XSETREF(parse_error, error_cls);
    Py_INCREF(cls);
    Py_XSETREF(event_type, type);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"parse_flat", (PyCFunction)parse_flat, METH_O, parse_flat_doc},
    {"dispatch", (PyCFunction)(void (*)(void))dispatch, METH_FASTCALL, dispatch_doc},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, bind_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "inwatch.inotify._accel",
    "The optional C accelerator of the inotify parser and dispatcher (see inwatch.accel).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int
intern(PyObject **where, const char *text)
{
    *where = PyUnicode_InternFromString(text);
    return *where == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__accel(void)
{
    if (intern(&str_kernel, "kernel") < 0 || intern(&str_slash, "/") < 0 ||
        intern(&m_overflow, "_overflow") < 0 || intern(&m_settles, "_settles") < 0 ||
        intern(&m_slow, "_slow") < 0 || intern(&m_known_dir, "_known_dir") < 0 ||
        intern(&m_known_file, "_known_file") < 0 || intern(&m_emit_one, "emit_one") < 0 ||
        intern(&m_add, "add") < 0 || intern(&m_discard, "discard") < 0)
        return NULL;
    return PyModule_Create(&module_def);
}
