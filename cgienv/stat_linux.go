//go:build linux

package cgienv

import "syscall"

// fileInfo is the part of stat(2) that resolution needs.
type fileInfo struct {
	mode  uint32 // syscall.S_IF* type bits only
	stamp Stamp
	perm  uint32 // permission bits (0o777)
	ctime int64  // status change time, ns: chmod, chown, rename and writes move it
}

const (
	modeDir     = syscall.S_IFDIR
	modeRegular = syscall.S_IFREG
	modeSymlink = syscall.S_IFLNK
)

func lstatFile(path string, fi *fileInfo) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return err
	}
	fillInfo(&st, fi)
	return nil
}

func statFile(path string, fi *fileInfo) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err
	}
	fillInfo(&st, fi)
	return nil
}

func fillInfo(st *syscall.Stat_t, fi *fileInfo) {
	fi.mode = st.Mode & syscall.S_IFMT
	fi.perm = st.Mode & 0o777
	fi.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	fi.stamp = Stamp{
		MtimeNs: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		Size:    st.Size,
		Ino:     st.Ino,
		Dev:     st.Dev,
	}
}

// checkExec reports whether the server may execute path, the check
// execve(2) makes under Apache (access(2) with X_OK, so the real uid and
// the owner/group/other bits all count).
func checkExec(path string) error {
	const xOK = 1
	return syscall.Access(path, xOK)
}
