/* The physical floor: the least a program must do to report inotify events.
 *
 *   reader [-r] DIR...
 *
 * Watches every DIR (with -r: every directory below it, and each directory that
 * is created later, without scanning it: the naive way), prints "ready" on
 * stderr once the watches are in place, then for every event one line on
 * stdout:
 *
 *   <CLOCK_MONOTONIC ns when the read returned> <mask in hex> <dir>/<name>
 *
 * Output is flushed once per read(2), so a burst costs one write per batch.
 * A queue overflow prints "<ns> 4000 -".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define MASK IN_ALL_EVENTS

static char **paths;       /* wd -> directory path */
static size_t npaths;
static int recursive;

static void remember(int wd, const char *path) {
    if ((size_t)wd >= npaths) {
        size_t n = npaths ? npaths : 1024;
        while (n <= (size_t)wd) n *= 2;
        paths = realloc(paths, n * sizeof *paths);
        if (!paths) { perror("realloc"); exit(2); }
        memset(paths + npaths, 0, (n - npaths) * sizeof *paths);
        npaths = n;
    }
    free(paths[wd]);
    paths[wd] = strdup(path);
}

static void watch(int fd, const char *path) {
    int wd = inotify_add_watch(fd, path, MASK | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) perror(path);
        return;
    }
    remember(wd, path);
    if (!recursive) return;
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *de;
    char sub[PATH_MAX];
    while ((de = readdir(dir)) != NULL) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        watch(fd, sub);
    }
    closedir(dir);
}

int main(int argc, char **argv) {
    int i = 1;
    if (i < argc && !strcmp(argv[i], "-r")) { recursive = 1; i++; }
    if (i >= argc) { fprintf(stderr, "usage: reader [-r] DIR...\n"); return 2; }
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0) { perror("inotify_init1"); return 2; }
    for (; i < argc; i++) watch(fd, argv[i]);
    fprintf(stderr, "ready\n");
    fflush(stderr);

    static char buf[1 << 18] __attribute__((aligned(__alignof__(struct inotify_event))));
    static char out[1 << 20];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    char sub[PATH_MAX];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("read");
            return 1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->wd < 0) {
                printf("%lld %x -\n", now, ev->mask);
                continue;
            }
            const char *dir = (size_t)ev->wd < npaths && paths[ev->wd] ? paths[ev->wd] : "?";
            const char *name = ev->len ? ev->name : "";
            printf("%lld %x %s/%s\n", now, ev->mask, dir, name);
            if (recursive && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                snprintf(sub, sizeof sub, "%s/%s", dir, name);
                watch(fd, sub);
            }
            if ((ev->mask & IN_IGNORED) && (size_t)ev->wd < npaths) {
                free(paths[ev->wd]);
                paths[ev->wd] = NULL;
            }
        }
        if (fflush(stdout) == EOF) return 0; /* the reader of our output went away */
    }
}
