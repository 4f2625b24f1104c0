/* What the parts of inwatch.inotify._accel share (see _accel.c for the whole).
 *
 * _accel.c           the module: bind() (the classes, Event's slot offsets), init
 * _accel_parse.c     parse_flat: the C twin of wire.parse_flat_py
 * _accel_dispatch.c  dispatch: the C twin of InotifyCore._dispatch's per-record loop
 * _accel_take.c      Taker: the C twin of InotifyCore.take(), the latency path
 * _accel_aio.c       aio_feed: async for's step
 * _accel_watch.c     add_watch: inotify_add_watch(2) for the walk (success only)
 */
#ifndef INWATCH_ACCEL_H
#define INWATCH_ACCEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ACCEL_INTERNAL __attribute__((visibility("hidden")))
#else
#define ACCEL_INTERNAL
#endif

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
#define SLOW                                                                            \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_IGNORED | IN_Q_OVERFLOW | \
     IN_MOVE_SELF | IN_UNMOUNT)
/* core._NOT_PLAIN_FILE: any bit but CREATE and DELETE sends it down the slow path. */
#define NOT_PLAIN_FILE (~(IN_CREATE | IN_DELETE))

/* struct inotify_event: int wd; uint32_t mask, cookie, len; char name[len]. */
#define HEADER_SIZE 16

/* Event's slots, by role; their offsets are found by bind() (_accel.c). */
enum { S_WD, S_MASK, S_COOKIE, S_NAME, S_PATH, S_PATHNAME, S_SRC, S_ORIGIN, S_TIME, S_ACTOR, N_SLOTS };

/* Set once by bind() and the module's init (_accel.c); read-only afterwards. */
ACCEL_INTERNAL extern PyObject *accel_parse_error;    /* inwatch.errors.EventParseError */
ACCEL_INTERNAL extern PyTypeObject *accel_event_type; /* inwatch.event.Event */
ACCEL_INTERNAL extern Py_ssize_t accel_slot_offset[N_SLOTS];
ACCEL_INTERNAL extern PyObject *accel_str_kernel; /* "kernel" (interned, as the Python constant) */
ACCEL_INTERNAL extern PyObject *accel_str_slash;  /* "/" */
/* Method names the dispatch loop calls back (interned). */
ACCEL_INTERNAL extern PyObject *accel_m_overflow, *accel_m_settles, *accel_m_slow;
ACCEL_INTERNAL extern PyObject *accel_m_known_dir, *accel_m_known_file, *accel_m_emit_one;
ACCEL_INTERNAL extern PyObject *accel_m_add, *accel_m_discard;
ACCEL_INTERNAL extern PyObject *accel_a_narrow; /* Root.narrow (filters.py) */

/* obj.<method>(a1, ..., a<nargs>) (unused trailing arguments NULL): a new
 * reference, NULL on error (_accel_dispatch.c). */
ACCEL_INTERNAL PyObject *accel_call(PyObject *obj, PyObject *method, PyObject *a1, PyObject *a2,
                                    PyObject *a3, PyObject *a4, PyObject *a5, PyObject *a6,
                                    size_t nargs);
ACCEL_INTERNAL PyObject *accel_parse_flat(PyObject *module, PyObject *arg);
ACCEL_INTERNAL extern const char accel_parse_flat_doc[];
ACCEL_INTERNAL PyObject *accel_dispatch(PyObject *module, PyObject *const *args,
                                        Py_ssize_t nargs);
ACCEL_INTERNAL extern const char accel_dispatch_doc[];
/* A read the Taker began (_accel_take.c) is published on the core (its
 * per-read attributes, which the Python callbacks read) only when the loop is
 * about to call into Python: publish() sets them and emit (out.append, a new
 * reference the caller releases). A read of plain events never calls back. */
typedef struct AccelPublish {
    int (*publish)(struct AccelPublish *self); /* 0, or -1 with an exception set */
    PyObject *emit;                            /* NULL until published */
} AccelPublish;
/* dispatch()'s loop over its 13 arguments; with *pub*, args[1] (emit) is NULL
 * until the read is published. */
ACCEL_INTERNAL PyObject *accel_dispatch_loop(PyObject *const *args, AccelPublish *pub);
/* Is it the watch table's (dense list, spill dict) pair (inotify/wdmap.py)? */
ACCEL_INTERNAL int accel_paths_ok(PyObject *paths);
ACCEL_INTERNAL extern PyTypeObject accel_taker_type;
ACCEL_INTERNAL int accel_taker_init(PyObject *module);
ACCEL_INTERNAL PyObject *accel_add_watch(PyObject *module, PyObject *const *args,
                                         Py_ssize_t nargs);
ACCEL_INTERNAL extern const char accel_add_watch_doc[]; /* _accel_watch.c */
ACCEL_INTERNAL PyObject *accel_aio_feed(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
ACCEL_INTERNAL extern const char accel_aio_feed_doc[]; /* _accel_aio.c: async for's step */

#endif
