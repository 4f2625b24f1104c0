/* Taker: the C twin of InotifyCore.take() (core.py), the latency path of a
 * poll-based driver; part of inwatch.inotify._accel, see _accel.c.
 *
 * Why: when events come one at a time, each read costs a wake-up and the
 * fixed price of a read, and between two of them the CPU's caches forget the
 * interpreter's state: the ~40 lines of Python around the C dispatch loop
 * (locks, the read, the parse, the per-read state, the end of a read) cost
 * ~9 µs a read that way against ~1 µs for the loop itself (measured with
 * stamps, write -> poll -> take, bench/latency.py's pattern). Here they are a
 * few hundred instructions. What is left of a take is mostly attribute
 * traffic on the core, so that is kept small too: the read's state is
 * published on the core only when Python is about to run (publish_read), and
 * the core's attributes are read and written in its __dict__ (state_get);
 * with both, a take of one event went from ~13,500 to ~7,800 instructions
 * (valgrind --tool=callgrind, the locks and the read included).
 *
 * One call does what take() does, in the same order, with the same locks:
 * the core's lock, then the read lock around the read alone; the read's
 * records go through the same dispatch loop (_accel_dispatch.c), with the
 * per-read state set on the core as _dispatch sets it before any callback of
 * the loop (the callbacks, and news.py's look-ahead, read it); then the end
 * of the read and the rest of process() as take() does them. Whatever is not
 * the plain case (a read left in the buffer, a read of more records than a
 * batch) goes through the Python methods themselves (_dispatch, _process), so
 * there is one implementation of everything but the plain case. "[core: ...]"
 * quotes the Python line each block stands for.
 *
 * The core makes a Taker only over the real kernel (KernelPort itself): a
 * subclass or a fake port (the forced-race tests) goes through Python. */
#include "_accel.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    /* The core, its port and the containers it never rebinds (bound once by
     * InotifyCore.__init__; see core.py). */
    PyObject *core, *port, *chunks;
    PyObject *paths, *special, *files, *items, *echo, *relisted;
    PyObject *moves_pending, *pending, *unlisted, *mounted, *more, *batch;
    /* The locks' acquire and release, bound once: a call each, no lookup. */
    PyObject *lock_acquire, *lock_release, *read_acquire, *read_release;
    PyObject *state; /* the core's __dict__ (see state_get) */
    Py_ssize_t batch_n, nearly_full, read_size;
    char *buf;
} Taker;

static PyObject *s_acquire, *s_release, *s_closed, *s_fd, *s_taken, *s_done, *s_started,
    *s_size, *s_flat, *s_it, *s_records, *s_moved_to, *s_departures, *s_now, *s_last_read,
    *s_unmounts, *s_uncover, *s_settle, *s_process, *s_dispatch, *s_append;

/* time.monotonic() / time.time(), as CPython computes them (nanoseconds as an
 * integer, then one division): equal values compare equal to the Python
 * clock's, which relisted stamps come from. */
static PyObject *
clock_float(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (ns % 1000000000 == 0)
        return PyFloat_FromDouble((double)(ns / 1000000000));
    return PyFloat_FromDouble((double)ns / 1e9);
}

/* A call made for its effect, given its result (a new reference, released):
 * 0, or -1 with an exception set. */
static int
effect(PyObject *result)
{
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* obj.name(*args) for its effect. */
static int
call_ok(PyObject *obj, PyObject *name, PyObject *a1, PyObject *a2, size_t nargs)
{
    return effect(accel_call(obj, name, a1, a2, NULL, NULL, NULL, NULL, nargs));
}

/* A bound method called with no argument, for its effect. */
static int
call_bound(PyObject *method)
{
    return effect(PyObject_Vectorcall(method, NULL, 0, NULL));
}

/* lock.release() (*release*, bound) in a `finally:`: an exception already set
 * stays the one raised (and one from release() is dropped then); 0, or -1
 * with an exception set (either). */
static int
release_finally(PyObject *release)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    int r = call_bound(release);
    if (exc_type == NULL)
        return r;
    if (r < 0)
        PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return -1;
}

/* The core's attributes that the Taker reads and writes are plain instance
 * attributes (taker_new checks that no class of the core makes one a data
 * descriptor), so they are read and written in the core's __dict__ itself
 * (*state*): a dict operation each, not the generic attribute protocol (the
 * type lookup, the descriptor checks), which on the latency path cost more
 * than the rest of a take. */

/* core.name as a new reference (NULL with AttributeError if absent). */
static PyObject *
state_get(PyObject *state, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(state, name);
    if (v == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_AttributeError, name);
        return NULL;
    }
    Py_INCREF(v);
    return v;
}

/* core.name truthy (-1 on error). */
static int
state_true(PyObject *state, PyObject *name)
{
    PyObject *v = state_get(state, name);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* core.name += delta (ints). */
static int
state_add(PyObject *state, PyObject *name, PyObject *delta)
{
    PyObject *v = state_get(state, name);
    if (v == NULL)
        return -1;
    PyObject *sum = PyNumber_Add(v, delta);
    Py_DECREF(v);
    if (sum == NULL)
        return -1;
    int r = PyDict_SetItem(state, name, sum);
    Py_DECREF(sum);
    return r;
}

static int
any_true(PyObject *const *objs, int n)
{
    for (int i = 0; i < n; i++) {
        int r = PyObject_IsTrue(objs[i]);
        if (r != 0)
            return r;
    }
    return 0;
}

/* [core: started = self.port.clock(); data = self.port.read()]: KernelPort.read
 * (one read(2) of READ_SIZE on the non-blocking fd; b"" when nothing is queued;
 * fd.more() when it came back nearly full). The GIL is kept: the fd never
 * blocks. Returns a new reference, NULL on error. */
static PyObject *
read_port(Taker *self)
{
    PyObject *fd_obj = PyObject_GetAttr(self->port, s_fd);
    if (fd_obj == NULL)
        return NULL;
    long fd = PyLong_AsLong(fd_obj);
    if (fd == -1 && PyErr_Occurred()) {
        Py_DECREF(fd_obj);
        return NULL;
    }
    if (fd < 0) {
        Py_DECREF(fd_obj);
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed Inotify");
        return NULL;
    }
    ssize_t n;
    for (;;) {
        n = read((int)fd, self->buf, (size_t)self->read_size);
        if (n >= 0)
            break;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            Py_DECREF(fd_obj);
            return PyBytes_FromStringAndSize(NULL, 0); /* nothing queued */
        }
        if (errno != EINTR || PyErr_CheckSignals() < 0) {
            if (!PyErr_Occurred())
                PyErr_SetFromErrno(PyExc_OSError);
            Py_DECREF(fd_obj);
            return NULL;
        }
    }
    PyObject *data = PyBytes_FromStringAndSize(self->buf, n);
    if (data != NULL && n > self->nearly_full) {
        /* [port: data if len(data) <= _NEARLY_FULL else more(fd, data)] */
        PyObject *args[2] = {fd_obj, data};
        PyObject *all = PyObject_Vectorcall(self->more, args, 2, NULL);
        Py_SETREF(data, all);
    }
    Py_DECREF(fd_obj);
    return data;
}

/* How many records *buf* holds (walking the headers' len fields), or -1 if it
 * does not end on a record's end (parse_flat then says how). */
static Py_ssize_t
count_records(const char *buf, Py_ssize_t n)
{
    Py_ssize_t count = 0, i = 0;
    while (i + HEADER_SIZE <= n) {
        uint32_t len;
        memcpy(&len, buf + i + 12, sizeof len);
        i += HEADER_SIZE + (Py_ssize_t)len;
        count++;
    }
    return i == n ? count : -1;
}

/* A read begun here, as the dispatch loop and the end of the read see it. */
typedef struct {
    AccelPublish base;
    PyObject *state, *out, *flat, *it, *started, *size, *now; /* state: the core's __dict__ */
    int ended; /* the read is done: _records is None once published */
} TakerRead;

/* [core: data, self._started = chunks.popleft(); self._size = len(data);
 *        flat = self._flat = parse_flat(data); it = self._it = iter(flat);
 *        records = self._records = zip(it, it, it, it, strict=True)
 *        self._moved_to = None; self._departures = None; self.now = time.time()]
 * and [core: emit = out.append], done when Python first needs them (a
 * callback of the loop, the end of the read, an error): the Python code
 * around the loop reads them, the loop itself does not. (_records is only
 * asked "is None" when the C loop runs: the iterator stands for the zip.)
 * Until then they hold an earlier read's values, which nothing reads: every
 * reader runs under the core's lock, held here throughout, and is either a
 * callback (it comes after this) or _dispatch beginning a read (it sets them
 * itself). */
static int
publish_read(AccelPublish *base)
{
    TakerRead *read = (TakerRead *)base;
    PyObject *state = read->state;
    if (PyDict_SetItem(state, s_started, read->started) < 0 ||
        PyDict_SetItem(state, s_size, read->size) < 0 ||
        PyDict_SetItem(state, s_flat, read->flat) < 0 ||
        PyDict_SetItem(state, s_it, read->it) < 0 ||
        PyDict_SetItem(state, s_records, read->ended ? Py_None : read->it) < 0 ||
        PyDict_SetItem(state, s_moved_to, Py_None) < 0 ||
        PyDict_SetItem(state, s_departures, Py_None) < 0 ||
        PyDict_SetItem(state, s_now, read->now) < 0)
        return -1;
    base->emit = PyObject_GetAttr(read->out, s_append);
    return base->emit == NULL ? -1 : 0;
}

/* Published (if it was not yet): 0, or -1 with an exception set. */
static int
published(TakerRead *read)
{
    return read->base.emit != NULL ? 0 : publish_read(&read->base);
}

/* On a failure: the read published as the Python loop leaves it when it
 * raises (the iterator where it stopped), so that the core's state says what
 * is left; the failure stays the exception raised. */
static void
publish_failed(TakerRead *read)
{
    if (read->base.emit != NULL)
        return;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    if (publish_read(&read->base) < 0)
        PyErr_Clear(); /* the first failure is the one to see */
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* The read's records through the dispatch loop, as _dispatch does for a read
 * it begins (the core's buffer was empty), then the end of the read. *flat*
 * holds at most a batch of records. */
static int
dispatch_read(Taker *self, PyObject *out, PyObject *flat, PyObject *started, PyObject *size)
{
    PyObject *core = self->core;
    PyObject *state = self->state;
    TakerRead read = {{publish_read, NULL}, state, out, flat, NULL, started, size, NULL, 0};
    int rc = -1;
    read.it = PyObject_GetIter(flat);
    if (read.it == NULL)
        goto done;
    /* [core: self.now = time.time()] (published with the rest) */
    read.now = clock_float(CLOCK_REALTIME);
    if (read.now == NULL)
        goto done;
    PyObject *args[13] = {core,        NULL,          out,         read.it,     self->batch,
                          self->paths, self->special, self->files, self->items, self->echo,
                          self->relisted, started,    read.now};
    PyObject *res = accel_dispatch_loop(args, &read.base);
    if (res == NULL) {
        publish_failed(&read);
        goto done;
    }
    Py_DECREF(res);
    /* [core: if length_hint(it): return  # the batch is full] */
    Py_ssize_t left = PyObject_LengthHint(read.it, 0);
    if (left < 0) {
        publish_failed(&read);
        goto done;
    }
    if (left) {
        rc = published(&read); /* the Python loop goes on with it */
        goto done;
    }
    /* [core: self._records = None; self._done += self._size; self.last_read = now]
     * (_records was None when the read began: only a published read set it.
     * A callback may have rebound _size and _started: asked, once published.) */
    read.ended = 1;
    PyObject *size_now = size;
    Py_INCREF(size_now);
    if (read.base.emit != NULL) {
        Py_SETREF(size_now, state_get(state, s_size));
        if (size_now == NULL || PyDict_SetItem(state, s_records, Py_None) < 0) {
            Py_XDECREF(size_now);
            goto done;
        }
    }
    int bad = state_add(state, s_done, size_now) < 0 ||
              PyDict_SetItem(state, s_last_read, read.now) < 0;
    Py_DECREF(size_now);
    if (bad)
        goto done;
    /* [core: if self._unmounts: self._uncover()] (rebound by _uncover: asked) */
    int r = state_true(state, s_unmounts);
    if (r < 0 || (r && (published(&read) < 0 || call_ok(core, s_uncover, NULL, NULL, 0) < 0)))
        goto done;
    /* [core: if recent._items or recent._echo or self.moves._pending or
     *        self.pending or self.unlisted or self.relisted:
     *            self._settle(self._started, emit)] */
    PyObject *settle_if[6] = {self->items,   self->echo,     self->moves_pending,
                              self->pending, self->unlisted, self->relisted};
    r = any_true(settle_if, 6);
    if (r < 0)
        goto done;
    if (r) {
        if (published(&read) < 0)
            goto done;
        PyObject *started_now = state_get(state, s_started);
        if (started_now == NULL)
            goto done;
        r = call_ok(core, s_settle, started_now, read.base.emit, 2);
        Py_DECREF(started_now);
        if (r < 0)
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(read.it);
    Py_XDECREF(read.now);
    Py_XDECREF(read.base.emit);
    return rc;
}

/* take()'s body with the core's lock held: 0, or -1 with an exception set. */
static int
take_locked(Taker *self, PyObject *out)
{
    PyObject *core = self->core;
    PyObject *data = NULL, *started = NULL, *size = NULL, *flat = NULL;
    int rc = -1;
    /* [core: if self._closed: return out] */
    int r = state_true(self->state, s_closed);
    if (r != 0)
        return r < 0 ? -1 : 0;
    /* [core: read_lock.acquire(); try: ... finally: read_lock.release()] */
    if (call_bound(self->read_acquire) < 0)
        return -1;
    started = clock_float(CLOCK_MONOTONIC);
    data = started == NULL ? NULL : read_port(self);
    Py_ssize_t n = data == NULL ? 0 : PyBytes_GET_SIZE(data);
    if (n) {
        size = PyLong_FromSsize_t(n);
        if (size == NULL || state_add(self->state, s_taken, size) < 0)
            Py_CLEAR(data);
    }
    if (release_finally(self->read_release) < 0)
        goto done;
    /* The plain case: something was read, nothing waited in the buffer, and
     * the read holds a batch at most. */
    int plain = n && count_records(PyBytes_AS_STRING(data), n) <= self->batch_n &&
                PyObject_Length(self->chunks) == 0;
    if (plain) {
        r = state_true(self->state, s_records);
        if (r < 0)
            goto done;
        plain = !r;
    }
    if (plain) {
        flat = accel_parse_flat(NULL, data);
        if (flat == NULL) {
            /* [core: self._done += len(data); raise]: out of the backlog */
            PyObject *exc_type, *exc_value, *exc_tb;
            PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
            if (state_add(self->state, s_done, size) < 0)
                PyErr_Clear(); /* the parse error is the one to see */
            PyErr_Restore(exc_type, exc_value, exc_tb);
            goto done;
        }
        if (dispatch_read(self, out, flat, started, size) < 0)
            goto done;
    }
    else {
        /* As take() does it: [core: self._chunks.append((data, started))]
         * when something was read, then [core: self._dispatch(out)] */
        if (n) {
            PyObject *item = PyTuple_Pack(2, data, started);
            if (item == NULL)
                goto done;
            r = call_ok(self->chunks, s_append, item, NULL, 1);
            Py_DECREF(item);
            if (r < 0)
                goto done;
        }
        if (call_ok(core, s_dispatch, out, NULL, 1) < 0)
            goto done;
    }
    /* [core: if self._records is None:
     *            if self._mounted or recent._items or recent._echo or self.moves._pending:
     *                self._process(out)] */
    r = state_true(self->state, s_records);
    if (r < 0)
        goto done;
    if (!r) {
        PyObject *process_if[4] = {self->mounted, self->items, self->echo, self->moves_pending};
        r = any_true(process_if, 4);
        if (r < 0 || (r && call_ok(core, s_process, out, NULL, 1) < 0))
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(data);
    Py_XDECREF(started);
    Py_XDECREF(size);
    Py_XDECREF(flat);
    return rc;
}

static PyObject *
taker_call(Taker *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "take() takes no arguments");
        return NULL;
    }
    /* [core: out = []; lock.acquire(); try: ... finally: lock.release()] */
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    if (call_bound(self->lock_acquire) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    int rc = take_locked(self, out);
    if (release_finally(self->lock_release) < 0 || rc < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

#define TAKER_FIELDS(X)                                                                  \
    X(core) X(port) X(chunks) X(paths) X(special) X(files) X(items) X(echo) X(relisted)  \
        X(moves_pending) X(pending) X(unlisted) X(mounted) X(more) X(batch)              \
            X(lock_acquire) X(lock_release) X(read_acquire) X(read_release) X(state)

static int
taker_traverse(Taker *self, visitproc visit, void *arg)
{
#define VISIT(f) Py_VISIT(self->f);
    TAKER_FIELDS(VISIT)
#undef VISIT
    return 0;
}

static int
taker_clear(Taker *self)
{
#define CLEAR(f) Py_CLEAR(self->f);
    TAKER_FIELDS(CLEAR)
#undef CLEAR
    return 0;
}

static void
taker_dealloc(Taker *self)
{
    PyObject_GC_UnTrack(self);
    taker_clear(self);
    PyMem_Free(self->buf);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The core's __dict__ (a new reference), once no class of the core makes a
 * name the Taker keeps there a data descriptor (a property or a slot would
 * take precedence over the dict for Python's reads and writes); NULL with
 * TypeError otherwise. */
static PyObject *
state_of(PyObject *core)
{
    PyObject *names[] = {s_closed, s_taken,    s_done,       s_started, s_size,
                         s_flat,   s_it,       s_records,    s_moved_to, s_departures,
                         s_now,    s_last_read, s_unmounts};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        PyObject *attr = PyObject_GetAttr((PyObject *)Py_TYPE(core), names[i]);
        if (attr == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return NULL;
            PyErr_Clear();
            continue;
        }
        int data = Py_TYPE(attr)->tp_descr_set != NULL;
        Py_DECREF(attr);
        if (data) {
            PyErr_Format(PyExc_TypeError,
                         "Taker(): %.100s.%U is a data descriptor, not an instance attribute",
                         Py_TYPE(core)->tp_name, names[i]);
            return NULL;
        }
    }
    PyObject *state = PyObject_GenericGetDict(core, NULL);
    if (state != NULL && !PyDict_CheckExact(state)) {
        Py_DECREF(state);
        PyErr_SetString(PyExc_TypeError, "Taker(): the core's __dict__ is not a dict");
        return NULL;
    }
    return state;
}

static PyObject *
taker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"core",    "port",     "lock",   "read_lock", "chunks",
                            "paths",   "special",  "files",  "items",     "echo",
                            "relisted", "moves_pending", "pending", "unlisted", "mounted",
                            "more",    "batch",    "nearly_full", "read_size", NULL};
    PyObject *o[17];
    Py_ssize_t nearly_full, read_size;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOOOOOOOOOOOOnn:Taker", names, &o[0],
                                     &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                                     &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16],
                                     &nearly_full, &read_size))
        return NULL;
    if (!accel_paths_ok(o[5]) || !accel_paths_ok(o[6]) || !PyDict_CheckExact(o[7])) {
        PyErr_SetString(PyExc_TypeError,
                        "Taker(): paths and special must be (list, dict) pairs, files a dict");
        return NULL;
    }
    Py_ssize_t batch_n = PyLong_AsSsize_t(o[16]);
    if (batch_n == -1 && PyErr_Occurred())
        return NULL;
    if (read_size <= 0 || nearly_full < 0 || nearly_full > read_size || batch_n <= 0) {
        PyErr_SetString(PyExc_ValueError, "Taker(): bad sizes");
        return NULL;
    }
    Taker *self = (Taker *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->buf = PyMem_Malloc((size_t)read_size);
    if (self->buf == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    /* o[2] and o[3], the locks, are kept only as their bound methods. */
    PyObject **fields[17] = {&self->core,     &self->port,     NULL,            NULL,
                             &self->chunks,   &self->paths,    &self->special,  &self->files,
                             &self->items,    &self->echo,     &self->relisted, &self->moves_pending,
                             &self->pending,  &self->unlisted, &self->mounted,  &self->more,
                             &self->batch};
    for (int i = 0; i < 17; i++) {
        if (fields[i] != NULL) {
            Py_INCREF(o[i]);
            *fields[i] = o[i];
        }
    }
    if ((self->state = state_of(self->core)) == NULL ||
        (self->lock_acquire = PyObject_GetAttr(o[2], s_acquire)) == NULL ||
        (self->lock_release = PyObject_GetAttr(o[2], s_release)) == NULL ||
        (self->read_acquire = PyObject_GetAttr(o[3], s_acquire)) == NULL ||
        (self->read_release = PyObject_GetAttr(o[3], s_release)) == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->batch_n = batch_n;
    self->nearly_full = nearly_full;
    self->read_size = read_size;
    return (PyObject *)self;
}

PyTypeObject accel_taker_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "inwatch.inotify._accel.Taker",
    .tp_basicsize = sizeof(Taker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Taker(core, port, lock, read_lock, chunks, paths, special, files, items, echo,\n"
              "      relisted, moves_pending, pending, unlisted, mounted, more, batch,\n"
              "      nearly_full, read_size)\n\n"
              "Calling it is InotifyCore.take() (see _accel_take.c).",
    .tp_new = taker_new,
    .tp_call = (ternaryfunc)taker_call,
    .tp_traverse = (traverseproc)taker_traverse,
    .tp_clear = (inquiry)taker_clear,
    .tp_dealloc = (destructor)taker_dealloc,
};

int
accel_taker_init(PyObject *module)
{
    struct {
        PyObject **where;
        const char *text;
    } names[] = {
        {&s_acquire, "acquire"},   {&s_release, "release"},       {&s_closed, "_closed"},
        {&s_fd, "_fd"},            {&s_taken, "_taken"},          {&s_done, "_done"},
        {&s_started, "_started"},  {&s_size, "_size"},            {&s_flat, "_flat"},
        {&s_it, "_it"},            {&s_records, "_records"},      {&s_moved_to, "_moved_to"},
        {&s_departures, "_departures"}, {&s_now, "now"},          {&s_last_read, "last_read"},
        {&s_unmounts, "_unmounts"}, {&s_uncover, "_uncover"},     {&s_settle, "_settle"},
        {&s_process, "_process"},  {&s_dispatch, "_dispatch"},    {&s_append, "append"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].where = PyUnicode_InternFromString(names[i].text);
        if (*names[i].where == NULL)
            return -1;
    }
    if (PyType_Ready(&accel_taker_type) < 0)
        return -1;
    Py_INCREF(&accel_taker_type);
    if (PyModule_AddObject(module, "Taker", (PyObject *)&accel_taker_type) < 0) {
        Py_DECREF(&accel_taker_type);
        return -1;
    }
    return 0;
}
