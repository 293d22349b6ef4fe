//go:build unix

package infra

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the account a server that refuses root (PostgreSQL) runs as.
type serverUser struct {
	cred *syscall.Credential // nil: run as this process's own user
	uid  int
	gid  int
}

// unprivilegedUser returns this process's own user, or, when it is root, the first of names that exists
// on this machine (the account a distribution package created), falling back to nobody.
func unprivilegedUser(names ...string) (serverUser, error) {
	if os.Geteuid() != 0 {
		return serverUser{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	for _, name := range append(names, "nobody") {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		return serverUser{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, uid: uid, gid: gid}, nil
	}
	return serverUser{}, fmt.Errorf("running as root, and none of the users %v exists to run the server as", append(names, "nobody"))
}

// apply makes cmd run as u. Go sets the parent-death signal after it changes the credentials, so the
// signal survives the switch (prctl clears it on a credential change).
func (u serverUser) apply(attr *syscall.SysProcAttr) *syscall.SysProcAttr {
	if u.cred != nil {
		attr.Credential = u.cred
	}
	return attr
}

// canReach reports whether u can enter every directory on the way to dir, which a server running as u
// needs for its work directory under dir. Directories that do not exist yet count as reachable.
func (u serverUser) canReach(dir string) error {
	if u.cred == nil {
		return nil
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil {
			sys, ok := st.Sys().(*syscall.Stat_t)
			mode := st.Mode().Perm()
			canEnter := mode&0o001 != 0 ||
				(ok && int(sys.Uid) == u.uid && mode&0o100 != 0) ||
				(ok && int(sys.Gid) == u.gid && mode&0o010 != 0)
			if !canEnter {
				return fmt.Errorf("user %d cannot enter %s (mode %v)", u.uid, d, mode)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// own gives u every file under dir, which it must write to.
func (u serverUser) own(dir string) error {
	if u.cred == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, u.uid, u.gid)
	})
}

// interruptGroup asks a server for a fast shutdown where SIGTERM means a slow one (PostgreSQL waits for
// every client to disconnect on SIGTERM, and rolls them back on SIGINT).
func interruptGroup(pid int) error { return signalGroup(pid, syscall.SIGINT) }
