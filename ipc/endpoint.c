/*
 * endpoint.c - where the control socket lives and how every socket is set
 * up and written to.
 *
 * The master's ROUTER binds ipc://RUNDIR/ctl inside a private directory
 * (mode 0700) so that no other local user can connect to it (T17).  The
 * directory is made with mkdtemp, so two jobs never share one.  Every
 * socket gets the same options (rules 2 and 3 of RELIABILITY.md), and
 * jr_ipc_send() is the one place that frames a message.  This is the only
 * file of ipc/ that includes <zmq.h>.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

#include "ipc/ipc.h"
#include "shm/shm.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* "/jobrun.<master pid>.<master start>.XXXXXX": the sweep of a later run
 * can tell whose it is (jr_ipc_sweep). */
#define RUNDIR_FMT "/jobrun.%d.%llu.XXXXXX"
#define CTL_NAME "/ctl"

/*-************************************
 *  Runtime directory
 **************************************/
/* Would "<base>/jobrun.XXXXXX/ctl" fit in a sockaddr_un?  mkdtemp keeps
 * the length, so this is known before anything is created. */
static int fits(const char *base, size_t namelen)
{
    return strlen(base) + namelen + strlen(CTL_NAME) <= SUN_PATH_MAX;
}

/* $XDG_RUNTIME_DIR is used when it names an existing directory we may
 * write to, by an absolute path short enough for the endpoint.  Else
 * /tmp: a runtime dir too long for a socket path falls back rather than
 * failing, since mkdtemp's 0700 directory is just as private there. */
static const char *pick_base(size_t namelen)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (x && x[0] == '/' && fits(x, namelen) && stat(x, &st) == 0 &&
        S_ISDIR(st.st_mode) && access(x, W_OK | X_OK) == 0)
        return x;
    return "/tmp";
}

int jr_ipc_rundir(char *out, size_t cap, pid_t master, uint64_t start)
{
    char name[64];
    snprintf(name, sizeof name, RUNDIR_FMT, (int)master,
             (unsigned long long)start);
    const char *base = pick_base(strlen(name));
    int w = snprintf(out, cap, "%s%s", base, name);
    if (w < 0 || (size_t)w >= cap || !fits(base, strlen(name)))
        return JR_ENAMETOOLONG; /* nothing was created */
    if (!mkdtemp(out))
        return -errno;
    /* mkdtemp asks for 0700 but the umask may take bits away (umask 0277
     * would leave us unable to bind); set exactly 0700. */
    if (chmod(out, 0700) < 0) {
        int rc = -errno;
        rmdir(out);
        return rc;
    }
    return 0;
}

int jr_ipc_endpoint(char *out, size_t cap, const char *rundir)
{
    if (strlen(rundir) + strlen(CTL_NAME) > SUN_PATH_MAX)
        return JR_ENAMETOOLONG;
    int w = snprintf(out, cap, "ipc://%s" CTL_NAME, rundir);
    if (w < 0 || (size_t)w >= cap)
        return JR_ENAMETOOLONG;
    return 0;
}

void jr_ipc_rmdir(const char *rundir)
{
    if (!rundir || !rundir[0])
        return;
    /* O_NOFOLLOW: if the path is not our directory any more, do not
     * empty whatever it points to. */
    int dfd = open(rundir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return; /* gone already: idempotent */
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    /* Besides ctl, a crashed libzmq may leave other files; remove every
     * entry (unlinkat never follows a link), empty subdirectories too. */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dfd, e->d_name, 0) < 0 &&
            (errno == EISDIR || errno == EPERM))
            unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    rmdir(rundir);
}

/*-************************************
 *  Sockets
 **************************************/
int jr_ipc_sockopts(void *sock)
{
    int linger = 0, hwm = 100000;
    int64_t maxmsg = JR_MSG_MAX;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0)
        return -zmq_errno();
    return 0;
}

static int send_frame(void *sock, zmq_msg_t *msg, int flags)
{
    while (zmq_msg_send(msg, sock, flags) < 0) {
        if (zmq_errno() != EINTR)
            return -zmq_errno();
    }
    return 0;
}

/* Header and payload in the message's own buffer: one copy. */
static int build(zmq_msg_t *msg, const jr_msg *h)
{
    /* Past JR_MSG_MAX the peer's ZMQ_MAXMSGSIZE would drop the link. */
    if (h->len > JR_MSG_MAX - JR_MSG_HDR)
        return -EMSGSIZE;
    if (zmq_msg_init_size(msg, JR_MSG_HDR + h->len) < 0)
        return -zmq_errno();
    uint8_t *f = zmq_msg_data(msg);
    jr_msg_encode(f, h);
    if (h->len)
        memcpy(f + JR_MSG_HDR, h->payload, h->len);
    return 0;
}

static int send_id(void *sock, const void *id, size_t idlen)
{
    zmq_msg_t idm;
    if (zmq_msg_init_size(&idm, idlen) < 0)
        return -zmq_errno();
    if (idlen)
        memcpy(zmq_msg_data(&idm), id, idlen);
    int rc = send_frame(sock, &idm, ZMQ_SNDMORE);
    zmq_msg_close(&idm);
    return rc;
}

int jr_ipc_send_as_is(void *sock, const void *id, size_t idlen,
                      const jr_msg *m)
{
    zmq_msg_t msg;
    int rc = build(&msg, m);
    if (rc < 0)
        return rc;
    /* With ZMQ_ROUTER_MANDATORY an unknown peer fails on the identity
     * frame (EHOSTUNREACH), before any part of the message is queued. */
    if (id)
        rc = send_id(sock, id, idlen);
    if (rc == 0)
        rc = send_frame(sock, &msg, 0);
    zmq_msg_close(&msg); /* after a send it is empty: a no-op */
    return rc;
}

uint16_t jr_ipc_pack_flag(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 ||
        strncmp(endpoint, "inproc://", 9) == 0)
        return 0;
    return JR_MSGF_LZ4;
}

int jr_ipc_send(void *sock, const void *id, size_t idlen, const jr_msg *m)
{
    jr_msg h = *m;
    jr_buf packed = {0};
    if (h.flags & JR_MSGF_LZ4) {
        int packs = jr_lz4_pack(m->payload, m->len, &packed);
        if (packs < 0)
            return packs;
        if (packs) {
            h.payload = packed.data;
            h.len = packed.len;
        } else {
            h.flags &= (uint16_t)~JR_MSGF_LZ4; /* raw after all */
        }
    }
    int rc = jr_ipc_send_as_is(sock, id, idlen, &h);
    jr_buf_fini(&packed);
    return rc;
}

/* Remove the runtime directories of dead masters: directories we own,
 * named by jr_ipc_rundir(), in $XDG_RUNTIME_DIR and /tmp, whose master is
 * certainly gone (shm is /dev/shm, for the masters' leases). */
static void sweep_base(const char *base, int shm)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid;
        unsigned long long start;
        char tail[8];
        if (sscanf(e->d_name, "jobrun.%d.%llu.%6s", &pid, &start, tail) != 3 ||
            pid <= 0 || strlen(tail) != 6)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", base, e->d_name) >=
                (int)sizeof path ||
            lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != getuid())
            continue;
        if (jr_shm_master_dead(shm, (pid_t)pid, start))
            jr_ipc_rmdir(path);
    }
    closedir(d);
}

void jr_ipc_sweep(void)
{
    int shm = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (shm < 0)
        return;
    const char *x = getenv("XDG_RUNTIME_DIR");
    if (x && x[0] == '/' && strcmp(x, "/tmp") != 0)
        sweep_base(x, shm);
    sweep_base("/tmp", shm);
    close(shm);
}
