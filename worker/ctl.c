/*
 * ctl.c - the segment directory of the control block.
 *
 * Workers create the segments that carry their map outputs and sorted
 * runs; the master unlinks them.  Every segment is first entered in the
 * directory under the control lock (CREATING), then created, then marked
 * READY.  A worker that dies anywhere in between leaves an entry that says
 * what to remove, and a lock whose EOWNERDEAD tells the next locker to run
 * jr_ctl_repair().
 */
#include <stdio.h>
#include <string.h>

#include "worker/worker.h"

#define LOCK_WAIT_MS 1000

size_t jr_ctl_size(unsigned nworkers)
{
    return sizeof(jr_ctl) + (size_t)nworkers * sizeof(jr_ctl_worker);
}

int jr_ctl_seg_name(const jr_ctl *ctl, uint32_t idx, char *out, size_t cap)
{
    /* Index 0 is the control segment itself; directory entry i is i + 1. */
    return jr_shm_name(out, cap, (pid_t)ctl->master_pid, ctl->master_start,
                       JR_SEG_N(ctl->seq, (uint64_t)idx + 1));
}

int jr_ctl_repair(void *arg)
{
    jr_ctl *ctl = arg;

    if (ctl->nsegs > JR_CTL_SEGS)
        return -1;
    /* The dead owner was between "take entry" and "mark READY" for at most
     * one entry.  Whatever it created under that name is removed; the
     * entry goes back to FREE, so nobody will read a half-written
     * segment. */
    for (uint32_t i = 0; i < ctl->nsegs; i++) {
        jr_ctl_seg *e = &ctl->segs[i];
        if (e->state == JR_SEG_CREATING) {
            jr_seg seg = {0};
            if (jr_ctl_seg_name(ctl, i, seg.name, sizeof seg.name) == 0)
                jr_shm_unlink(&seg);
            e->state = JR_SEG_FREE;
        } else if (e->state > JR_SEG_DROPPED) {
            e->state = JR_SEG_FREE;
        }
    }
    return 0;
}

/* jr_ctl_seg_create(), sparse when fd is not NULL. */
static int seg_create(jr_ctl *ctl, uint32_t owner, size_t len, jr_seg *seg,
                      uint32_t *idx, int *fd)
{
    if (fd)
        *fd = -1;
    int rc = jr_lock_acquire(&ctl->lock, LOCK_WAIT_MS, jr_ctl_repair, ctl,
                             NULL);
    if (rc < 0)
        return rc;
    if (ctl->nsegs >= JR_CTL_SEGS) {
        jr_lock_release(&ctl->lock);
        return JR_ENOSPC;
    }
    uint32_t i = ctl->nsegs++;
    ctl->segs[i].state = JR_SEG_CREATING;
    ctl->segs[i].owner = owner;
    ctl->segs[i].size = len;
    jr_lock_release(&ctl->lock);

    /* Created outside the lock: posix_fallocate of a big segment takes a
     * while and nobody else needs this entry until it is READY. */
    char name[JR_SHM_NAME_MAX];
    rc = jr_ctl_seg_name(ctl, i, name, sizeof name);
    if (rc == 0)
        rc = fd ? jr_shm_create_sparse(seg, name, len ? len : 1, fd)
                : jr_shm_create(seg, name, len ? len : 1);
    if (rc < 0) {
        if (jr_lock_acquire(&ctl->lock, LOCK_WAIT_MS, jr_ctl_repair, ctl,
                            NULL) == 0) {
            ctl->segs[i].state = JR_SEG_FREE;
            jr_lock_release(&ctl->lock);
        }
        return rc;
    }
    *idx = i;
    return 0;
}

int jr_ctl_seg_create(jr_ctl *ctl, uint32_t owner, size_t len, jr_seg *seg,
                      uint32_t *idx)
{
    return seg_create(ctl, owner, len, seg, idx, NULL);
}

int jr_ctl_seg_create_sparse(jr_ctl *ctl, uint32_t owner, size_t len,
                             jr_seg *seg, uint32_t *idx, int *fd)
{
    return seg_create(ctl, owner, len, seg, idx, fd);
}

int jr_ctl_seg_ready(jr_ctl *ctl, uint32_t idx)
{
    int rc = jr_lock_acquire(&ctl->lock, LOCK_WAIT_MS, jr_ctl_repair, ctl,
                             NULL);
    if (rc < 0)
        return rc;
    if (idx < ctl->nsegs && ctl->segs[idx].state == JR_SEG_CREATING)
        ctl->segs[idx].state = JR_SEG_READY;
    else
        rc = JR_EPROTO;
    jr_lock_release(&ctl->lock);
    return rc;
}

void jr_ctl_seg_free(jr_ctl *ctl, uint32_t idx)
{
    if (jr_lock_acquire(&ctl->lock, LOCK_WAIT_MS, jr_ctl_repair, ctl,
                        NULL) < 0)
        return; /* the end of the run drops it anyway */
    if (idx < ctl->nsegs && ctl->segs[idx].state != JR_SEG_FREE) {
        jr_seg seg = {0};
        if (jr_ctl_seg_name(ctl, idx, seg.name, sizeof seg.name) == 0)
            jr_shm_unlink(&seg);
        ctl->segs[idx].state = JR_SEG_FREE;
    }
    jr_lock_release(&ctl->lock);
}
