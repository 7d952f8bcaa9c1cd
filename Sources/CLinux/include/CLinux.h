// Linux calls that Glibc's Swift overlay hides. Header-only; see docs/architecture.md.
#ifndef HAUL_CLINUX_H
#define HAUL_CLINUX_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <dirent.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <stdio.h>

static inline int haul_errno(void) { return errno; }
static inline void haul_set_errno(int e) { errno = e; }
static inline int haul_mallopt(int param, int value) { return mallopt(param, value); }
static inline int haul_m_mmap_threshold(void) { return M_MMAP_THRESHOLD; }
static inline int haul_m_trim_threshold(void) { return M_TRIM_THRESHOLD; }
static inline off_t haul_seek_data(int fd, off_t offset) { return lseek(fd, offset, SEEK_DATA); }
static inline off_t haul_seek_hole(int fd, off_t offset) { return lseek(fd, offset, SEEK_HOLE); }
static inline int haul_o_noatime(void) { return O_NOATIME; }
static inline int haul_o_path(void) { return O_PATH; }
static inline int haul_o_directory(void) { return O_DIRECTORY; }
static inline int haul_o_nofollow(void) { return O_NOFOLLOW; }
static inline int haul_o_cloexec(void) { return O_CLOEXEC; }
static inline int haul_at_symlink_nofollow(void) { return AT_SYMLINK_NOFOLLOW; }
static inline int haul_at_removedir(void) { return AT_REMOVEDIR; }
static inline int haul_at_empty_path(void) { return AT_EMPTY_PATH; }
static inline int haul_at_fdcwd(void) { return AT_FDCWD; }
static inline int haul_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
static inline unsigned int haul_rename_noreplace(void) { return RENAME_NOREPLACE; }
static inline unsigned int haul_major(dev_t d) { return major(d); }
static inline unsigned int haul_minor(dev_t d) { return minor(d); }
static inline dev_t haul_makedev(unsigned int ma, unsigned int mi) { return makedev(ma, mi); }
static inline int haul_syncfs(int fd) { return syncfs(fd); }
static inline int haul_fallocate(int fd, int mode, off_t offset, off_t len) { return fallocate(fd, mode, offset, len); }
static inline int haul_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    return statx(dirfd, path, flags, mask, buf);
}
#endif
