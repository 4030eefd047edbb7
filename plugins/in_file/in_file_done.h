/*
 * How far a file is processed, not only read: the position in_file saves
 * is the end of the last line whose batch, and every batch before it,
 * every detector and output released (the core's batch_done hook). A
 * crash then reads again what was in flight (at-least-once) instead of
 * skipping it. One input thread emits; batch_done comes from any worker
 * or output thread. Locking: once per batch, never per line.
 */
#ifndef SN_IN_FILE_DONE_H
#define SN_IN_FILE_DONE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct if_step {
    uint64_t seq; /* the batch the lines went into */
    int64_t next; /* the file offset after its last line */
    bool done;
};

struct if_done {
    pthread_mutex_t lock;
    struct if_step *steps; /* a ring, oldest first */
    size_t head, n, cap;
    int64_t safe; /* every line before it is processed */
    bool stuck;   /* a step could not be kept (out of memory) */
    /* The input thread's own: the batch being filled. */
    struct if_step local;
    bool has_local;
};

int if_done_init(struct if_done *d);
void if_done_fini(struct if_done *d);
/* A new file (opened, rotated, truncated) read from `start`: what is in
 * flight belongs to the old one (call it once that is idle). */
void if_done_restart(struct if_done *d, int64_t start);
/* Input thread, after emit() put a line ending at `next` into batch seq. */
void if_done_emitted(struct if_done *d, uint64_t seq, int64_t next);
/* Any thread: the core released batch seq. */
void if_done_batch(struct if_done *d, uint64_t seq);
/* Input thread: the offset before which every line is processed. */
int64_t if_done_safe(struct if_done *d);
/* Input thread: nothing emitted is still in flight. */
bool if_done_idle(struct if_done *d);

#endif
