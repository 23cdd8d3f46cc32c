/*
 * sync/lock: the repository lock that keeps two plansync processes apart.
 *
 * An flock(2) on a file under the git dir (.git/plansync.lock).  The kernel
 * drops the lock when its holder dies, so a lock left by a killed process
 * is recovered by construction; the file itself stays and only names the
 * last holder's pid for the "busy" message.  The lock is not inherited
 * across exec (O_CLOEXEC), so an editor or hook started under it does not
 * keep it alive.
 */
#ifndef PLANSYNC_LOCK_H
#define PLANSYNC_LOCK_H

#define LOCK_WAIT_MS 2000 /* how long lock_acquire waits by default */

struct lock;

/*
 * Take the lock file at path (created if missing), waiting up to wait_ms
 * for another holder to let go.  `what` names the repository in the
 * message.  ERROR_BUSY "repository 'what' is busy: another plansync (pid
 * N) holds its lock" when it stays held.
 */
int lock_acquire(
	struct lock **out,
	const char *path,
	const char *what,
	unsigned wait_ms);

/* Release and free; NULL does nothing. */
void lock_release(struct lock *lock);

#endif
