package watch

import "syscall"

// Magic numbers of file systems (statfs f_type, see statfs(2)) where a change made on the other side
// of the mount raises no inotify event here: an editor on the Windows side of WSL2 (9p drvfs), on
// the host of a VM or container share, or on another NFS/SMB client.
var remoteMagic = map[uint32]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x01021997: "9p (WSL or a VM share)",
	0x65735546: "fuse (sshfs, virtiofs, a Docker Desktop share)",
	0x786f4256: "vboxsf (a VirtualBox share)",
	0x73757245: "coda",
	0x5346414f: "afs",
	0x00c36400: "ceph",
}

// remoteFS names dir's file system when it is one of remoteMagic, else "".
func remoteFS(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	return remoteMagic[uint32(st.Type)]
}
