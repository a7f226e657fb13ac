package server

import "syscall"

// networkFS names the network or user-space file system dir is on, where
// inotify does not hear of changes made elsewhere, or returns "".
func networkFS(dir string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return ""
	}
	switch uint32(st.Type) {
	case 0x6969:
		return "NFS"
	case 0x517B, 0xFF534D42, 0xFE534D42:
		return "SMB/CIFS"
	case 0x65735546:
		return "FUSE"
	case 0x01021997:
		return "9P"
	case 0x00C36400:
		return "Ceph"
	case 0x5346414F:
		return "AFS"
	case 0x01161970:
		return "GFS2"
	case 0x7461636F:
		return "OCFS2"
	case 0x0BD00BD0:
		return "Lustre"
	}
	return ""
}
