// Definitions for CLinux.h, compiled with _GNU_SOURCE so every Linux-specific declaration is visible here and
// nowhere else (see the note at the top of the header).
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "CLinux.h"

int haul_errno(void) { return errno; }
void haul_set_errno(int e) { errno = e; }
int haul_mallopt(int param, int value) { return mallopt(param, value); }
int haul_m_mmap_threshold(void) { return M_MMAP_THRESHOLD; }
int haul_m_trim_threshold(void) { return M_TRIM_THRESHOLD; }
off_t haul_seek_data(int fd, off_t offset) { return lseek(fd, offset, SEEK_DATA); }
off_t haul_seek_hole(int fd, off_t offset) { return lseek(fd, offset, SEEK_HOLE); }
int haul_o_noatime(void) { return O_NOATIME; }
int haul_o_path(void) { return O_PATH; }
int haul_o_directory(void) { return O_DIRECTORY; }
int haul_o_nofollow(void) { return O_NOFOLLOW; }
int haul_o_cloexec(void) { return O_CLOEXEC; }

int haul_reopen_direct(int fd) {
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, O_WRONLY | O_CLOEXEC | O_DIRECT);
}
int haul_open_tmpfile(int dirfd, mode_t mode) { return openat(dirfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, mode); }
int haul_link_open_file(int fd, int dirfd, const char *name) {
    if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOENT) return -1;
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}
int haul_at_symlink_nofollow(void) { return AT_SYMLINK_NOFOLLOW; }
int haul_at_removedir(void) { return AT_REMOVEDIR; }
int haul_at_empty_path(void) { return AT_EMPTY_PATH; }
int haul_at_fdcwd(void) { return AT_FDCWD; }
int haul_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
unsigned int haul_rename_noreplace(void) { return RENAME_NOREPLACE; }
unsigned int haul_major(dev_t d) { return major(d); }
unsigned int haul_minor(dev_t d) { return minor(d); }
dev_t haul_makedev(unsigned int ma, unsigned int mi) { return makedev(ma, mi); }
int haul_syncfs(int fd) { return syncfs(fd); }
int haul_start_writeback(int fd, off_t offset, off_t len) {
    return sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE);
}
int haul_fallocate(int fd, int mode, off_t offset, off_t len) { return fallocate(fd, mode, offset, len); }
int haul_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    return statx(dirfd, path, flags, mask, buf);
}

ssize_t haul_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t haul_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
ssize_t haul_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
ssize_t haul_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}
int haul_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
int haul_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}

int haul_enodata(void) { return ENODATA; }
int haul_enotsup(void) { return ENOTSUP; }
int haul_eopnotsupp(void) { return EOPNOTSUPP; }
int haul_enxio(void) { return ENXIO; }
int haul_erange(void) { return ERANGE; }
int haul_eloop(void) { return ELOOP; }
int haul_eisdir(void) { return EISDIR; }

int haul_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }
int haul_openat(int dirfd, const char *path, int flags, mode_t mode) { return openat(dirfd, path, flags, mode); }
int haul_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) { return mknodat(dirfd, path, mode, dev); }
