// Linux calls that Glibc's Swift overlay hides. See docs/architecture.md.
//
// The definitions live in shim.c, which is compiled with _GNU_SOURCE. This header must not define _GNU_SOURCE
// itself: it would change system structs seen through this module (glibc names fd_set's member `fds_bits` under
// __USE_XOPEN, `__fds_bits` otherwise), and any Swift file that also sees Dispatch (through Foundation) would then
// fail to build with "'__fds_bits' from module 'CDispatch' is not present in definition of 'fd_set'".
#ifndef HAUL_CLINUX_H
#define HAUL_CLINUX_H
#include <stddef.h>
#include <sys/types.h>
#include <linux/stat.h>

int haul_errno(void);
void haul_set_errno(int e);
int haul_mallopt(int param, int value);
int haul_m_mmap_threshold(void);
int haul_m_trim_threshold(void);
off_t haul_seek_data(int fd, off_t offset);
off_t haul_seek_hole(int fd, off_t offset);
int haul_o_noatime(void);
int haul_o_path(void);
int haul_o_directory(void);
int haul_o_nofollow(void);
int haul_o_cloexec(void);
// A second descriptor for the file open as `fd`, write-only with O_DIRECT (opened through /proc/self/fd/<fd>);
// -1 where that fails, for example on a file system without direct I/O.
int haul_reopen_direct(int fd);
// An unnamed regular file in the directory `dirfd`, write-only (O_TMPFILE); -1 with EOPNOTSUPP (or EISDIR on kernels
// before 3.11) where the file system cannot make one.
int haul_open_tmpfile(int dirfd, mode_t mode);
// Gives the unnamed file open as `fd` the name `name` in `dirfd` (never replacing an entry: EEXIST): linkat with
// AT_EMPTY_PATH (before Linux 6.10 only with CAP_DAC_READ_SEARCH, else ENOENT), else through /proc/self/fd/<fd>
// with AT_SYMLINK_FOLLOW.
int haul_link_open_file(int fd, int dirfd, const char *name);
int haul_at_symlink_nofollow(void);
int haul_at_removedir(void);
int haul_at_empty_path(void);
int haul_at_fdcwd(void);
int haul_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
unsigned int haul_rename_noreplace(void);
unsigned int haul_major(dev_t d);
unsigned int haul_minor(dev_t d);
dev_t haul_makedev(unsigned int ma, unsigned int mi);
int haul_syncfs(int fd);
// sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE): starts writeback of the range's dirty pages without
// waiting for it (len 0: to the end of the file).
int haul_start_writeback(int fd, off_t offset, off_t len);
int haul_fallocate(int fd, int mode, off_t offset, off_t len);
int haul_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf);

// Extended attributes by path, never following a final symlink (used with "/proc/self/fd/<dirfd>/<name>").
ssize_t haul_llistxattr(const char *path, char *list, size_t size);
ssize_t haul_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t haul_flistxattr(int fd, char *list, size_t size);
ssize_t haul_fgetxattr(int fd, const char *name, void *value, size_t size);
int haul_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int haul_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);

// errno values the overlay does not export under these names.
int haul_enodata(void);
int haul_enotsup(void);
int haul_eopnotsupp(void);
int haul_enxio(void);
int haul_erange(void);
int haul_eloop(void);
int haul_eisdir(void);

// Non-variadic forms of calls Swift cannot call directly or that need flags from above.
int haul_dup_cloexec(int fd);
int haul_openat(int dirfd, const char *path, int flags, mode_t mode);
int haul_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev);
#endif
