//go:build !linux

package cgienv

import (
	"io/fs"
	"os"
	"syscall"
)

// fileInfo is the part of stat(2) that resolution needs. Outside Linux the
// stamp has no inode or device, which is enough for development builds.
type fileInfo struct {
	mode  uint32
	stamp Stamp
	perm  uint32 // permission bits (0o777)
	ctime int64  // not known here: 0 (the stamp and perm are compared)
}

const (
	modeDir     = 1
	modeRegular = 2
	modeSymlink = 3
)

func lstatFile(path string, fi *fileInfo) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	fillInfo(st, fi)
	return nil
}

func statFile(path string, fi *fileInfo) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fillInfo(st, fi)
	return nil
}

func fillInfo(st fs.FileInfo, fi *fileInfo) {
	switch m := st.Mode(); {
	case m&fs.ModeSymlink != 0:
		fi.mode = modeSymlink
	case m.IsDir():
		fi.mode = modeDir
	case m.IsRegular():
		fi.mode = modeRegular
	default:
		fi.mode = 0
	}
	fi.perm = uint32(st.Mode().Perm())
	fi.stamp = Stamp{MtimeNs: st.ModTime().UnixNano(), Size: st.Size()}
}

// checkExec approximates execve's permission check with the mode bits.
func checkExec(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}
