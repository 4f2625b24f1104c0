/* dispatch: the C twin of the per-record loop of InotifyCore._dispatch (core.py);
 * part of inwatch.inotify._accel, see _accel.c. "[core: ...]" quotes the Python
 * line each block stands for. */
#include "_accel.h"

/* --- Event, without __init__ ------------------------------------------------ */

/* [core: ev = alloc(new); ev.wd = wd; ... ev.actor = None]: every slot, in
 * core's order. Steals *pathname* (a new reference), whatever happens. */
static PyObject *
new_event(PyObject *wd, PyObject *mask, PyObject *cookie, PyObject *name, PyObject *path,
          PyObject *pathname, PyObject *now)
{
    PyObject *ev = accel_event_type->tp_alloc(accel_event_type, 0);
    if (ev == NULL) {
        Py_DECREF(pathname);
        return NULL;
    }
    char *base = (char *)ev;
#define STORE(slot, value)                                                 \
    do {                                                                   \
        PyObject *v_ = (value);                                            \
        Py_INCREF(v_);                                                     \
        *(PyObject **)(base + accel_slot_offset[slot]) = v_;                     \
    } while (0)
    STORE(S_WD, wd);
    STORE(S_MASK, mask);
    STORE(S_COOKIE, cookie);
    STORE(S_NAME, name);
    STORE(S_PATH, path);
    *(PyObject **)(base + accel_slot_offset[S_PATHNAME]) = pathname; /* stolen */
    STORE(S_SRC, Py_None);
    STORE(S_ORIGIN, accel_str_kernel);
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
    PyObject *head = PyNumber_Add(path, accel_str_slash);
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
PyObject *
accel_call(PyObject *core, PyObject *method, PyObject *a1, PyObject *a2, PyObject *a3, PyObject *a4,
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
        if (method == accel_m_add)
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

/* WdMap.get(wd) (the path of watch *wd*, or its special root) as a new
 * reference (NULL and no error: none), from the map's (dense, spill) pair
 * (inotify/wdmap.py): dense[wd] for a wd
 * inside the list, else spill.get(wd). wd -1 (IN_Q_OVERFLOW) is never in
 * either. The list may have grown or shrunk in a callback since the last
 * event: its size is read each time. */
static PyObject *
wdmap_get(PyObject *dense, PyObject *spill, PyObject *wd)
{
    int overflow;
    long i = PyLong_AsLongAndOverflow(wd, &overflow);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (!overflow && i > 0 && i < PyList_GET_SIZE(dense)) {
        PyObject *value = PyList_GET_ITEM(dense, i);
        if (value == Py_None)
            return NULL;
        Py_INCREF(value);
        return value;
    }
    return dict_get(spill, wd);
}

/* A callback may have added or dropped a special root's watch: asked per
 * event. Empty is a list of one slot and an empty dict (wdmap.py). */
#define ANY_SPECIAL() (PyList_GET_SIZE(sdense) > 1 || PyDict_GET_SIZE(sspill))

/* Is *paths* a WdMap's (list, dict) pair? */
int
accel_paths_ok(PyObject *paths)
{
    return PyTuple_CheckExact(paths) && PyTuple_GET_SIZE(paths) == 2 &&
           PyList_CheckExact(PyTuple_GET_ITEM(paths, 0)) &&
           PyDict_CheckExact(PyTuple_GET_ITEM(paths, 1));
}

/* --- dispatch --------------------------------------------------------------- */

const char accel_dispatch_doc[] =
    "dispatch(core, emit, out, it, quota, paths, special, files, held_items, echo,\n"
    "         relisted, started, now) -> None\n\n"
    "The per-record loop of InotifyCore._dispatch in C: up to quota records off\n"
    "the flat iterator it, the events appended to out.";

PyObject *
accel_dispatch(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 13) {
        PyErr_Format(PyExc_TypeError, "dispatch() takes 13 arguments (%zd given)", nargs);
        return NULL;
    }
    return accel_dispatch_loop(args, NULL);
}

/* Before a call into Python: the Taker's read published (a no-op for
 * dispatch() itself, whose caller published it). 0, or -1 with an exception. */
static inline int
ready_for_python(AccelPublish *pub, PyObject **emit)
{
    if (pub == NULL || *emit != NULL)
        return 0;
    if (pub->publish(pub) < 0)
        return -1;
    *emit = pub->emit;
    return 0;
}

PyObject *
accel_dispatch_loop(PyObject *const *args, AccelPublish *pub)
{
    if (accel_event_type == NULL) {
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
    if (!PyList_CheckExact(out) || !accel_paths_ok(paths) || !accel_paths_ok(special) ||
        !PyDict_CheckExact(files)) {
        PyErr_SetString(PyExc_TypeError, "dispatch(): out must be a list, paths and special "
                                         "(list, dict) pairs, files a dict");
        return NULL;
    }
    PyObject *dense = PyTuple_GET_ITEM(paths, 0), *spill = PyTuple_GET_ITEM(paths, 1);
    PyObject *sdense = PyTuple_GET_ITEM(special, 0), *sspill = PyTuple_GET_ITEM(special, 1);
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

        /* [core: path = dense[wd] if 0 < wd < len(dense) else spill.get(wd)]
         * (a reference of our own: a callback may drop the watch) */
        path = wdmap_get(dense, spill, wd);
        if (path == NULL) {
            if (PyErr_Occurred())
                goto error;
            /* [core: if mask & _Q_OVERFLOW: self._overflow(emit)] */
            if (m & IN_Q_OVERFLOW) {
                if (ready_for_python(pub, &emit) < 0)
                    goto error;
                PyObject *res = accel_call(core, accel_m_overflow, emit, NULL, NULL, NULL, NULL, NULL, 1);
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
                if (ready_for_python(pub, &emit) < 0)
                    goto error;
                r = truth_of(accel_call(core, accel_m_settles, wd, mask, name, emit, started, NULL, 5));
                if (r < 0)
                    goto error;
                if (r)
                    goto next_record; /* our own listing's echo */
            }
        }
        /* [core: narrow = 0; if len(sdense) > 1 or sspill: root = <special.get(wd)>;
         *  if root is not None: narrow = root.narrow or -1]
         * (-1 is filtered: every event of the root to emit_one) */
        unsigned long narrow = 0;
        int filtered = 0;
        if (ANY_SPECIAL()) {
            PyObject *root = wdmap_get(sdense, sspill, wd);
            if (root == NULL && PyErr_Occurred())
                goto error;
            if (root != NULL) {
                PyObject *bits = PyObject_GetAttr(root, accel_a_narrow);
                Py_DECREF(root);
                if (bits == NULL)
                    goto error;
                narrow = PyLong_AsUnsignedLong(bits);
                Py_DECREF(bits);
                if (narrow == (unsigned long)-1 && PyErr_Occurred())
                    goto error;
                filtered = narrow == 0;
            }
        }
        /* [core: if mask & slow:] */
        if (m & SLOW) {
            /* [core: if mask & not_plain_file or narrow < 0:
             *      self._slow(...); continue] */
            if ((m & NOT_PLAIN_FILE) || filtered) {
                if (ready_for_python(pub, &emit) < 0)
                    goto error;
                PyObject *res = accel_call(core, accel_m_slow, wd, mask, cookie, name, path, emit, 6);
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
                else if (set_op(names, accel_m_add, sname) < 0) /* [core: names.add(sname)] */
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
                if (set_op(names, accel_m_discard, sname) < 0)
                    goto error;
            }
            /* [core: if narrow and not mask & narrow: continue] */
            if (narrow && !(m & narrow))
                goto next_record; /* kept in the baseline, not asked for */
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
                if (ready_for_python(pub, &emit) < 0)
                    goto error;
                r = truth_of(accel_call(core, accel_m_known_dir, wd, sname, path, NULL, NULL, NULL, 3));
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
                    if (ready_for_python(pub, &emit) < 0)
                        goto error;
                    r = truth_of(accel_call(core, accel_m_known_file, wd, sname, path, NULL, NULL, NULL, 3));
                    if (r < 0)
                        goto error;
                    if (!r)
                        goto next_record; /* a file never reported here */
                }
            }
        }
        /* [core: if narrow: if narrow < 0: emit_one; continue;
         *  if not mask & narrow: continue] */
        if (filtered) {
            if (ready_for_python(pub, &emit) < 0)
                goto error;
            PyObject *res = accel_call(core, accel_m_emit_one, emit, wd, mask, cookie, sname, path, 6);
            if (res == NULL)
                goto error;
            Py_DECREF(res);
            goto next_record;
        }
        if (narrow && !(m & narrow))
            goto next_record; /* not asked for */
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
