package hoststat

import (
	"bytes"
	"syscall"

	"github.com/watchpost/watchpost/munin"
)

// fsState keeps the filesystems munin's df plugins would list, re-derived
// only when /proc/self/mountinfo changes: a round compares the file with
// the last one and, when equal, only calls statfs(2) per filesystem.
type fsState struct {
	lastInfo []byte
	mounts   []mount
	dfG      *munin.Graph
	absG     *munin.Graph
	inodeG   *munin.Graph
	st       syscall.Statfs_t
	ok       bool // lastInfo parsed at least once
}

type mount struct {
	field string // clean_fieldname of the device (or mount point for tmpfs & co)
	point string
	path  []byte // NUL-terminated mount point for statfs
	df    bool   // in df and df_abs
	inode bool   // in df_inode
}

// pseudoFS are file systems without storage behind them: GNU df hides
// these "dummy" types (and zero-size ones) unless -a is given, and they
// would only add noise or, for autofs, trigger mounts.
var pseudoFS = map[string]bool{
	"autofs": true, "proc": true, "subfs": true, "debugfs": true, "devpts": true, "fusectl": true,
	"fuse.portal": true, "mqueue": true, "rpc_pipefs": true, "sysfs": true, "devfs": true, "kernfs": true,
	"ignore": true, "cgroup": true, "cgroup2": true, "tracefs": true, "securityfs": true, "pstore": true,
	"bpf": true, "configfs": true, "hugetlbfs": true, "binfmt_misc": true, "nsfs": true, "efivarfs": true,
	"selinuxfs": true, "fuse.gvfsd-fuse": true, "overlay.lower": true,
}

// remoteFS are what `df -l` leaves out; statfs on a hung server would
// also block the round.
var remoteFS = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ncpfs": true, "afs": true,
	"ceph": true, "glusterfs": true, "fuse.glusterfs": true, "fuse.sshfs": true, "9p": true, "lustre": true,
	"gfs": true, "gfs2": true, "ocfs2": true, "fuse.s3fs": true,
}

// The env.exclude defaults of munin's df and df_inode.
var (
	dfExclude    = map[string]bool{"none": true, "unknown": true, "rootfs": true, "iso9660": true, "squashfs": true, "udf": true, "romfs": true, "ramfs": true, "debugfs": true, "cgroup_root": true, "devtmpfs": true}
	inodeExclude = map[string]bool{"none": true, "unknown": true, "iso9660": true, "squashfs": true, "udf": true, "romfs": true, "ramfs": true, "vfat": true, "debugfs": true, "nilfs2": true, "rootfs": true, "reiserfs": true}
	// munin's df names these devices by their mount point instead.
	useMountPoint = map[string]bool{"tmpfs": true, "none": true, "udev": true, "simfs": true}
)

func (c *Collector) statfs(path []byte, st *syscall.Statfs_t) error {
	if c.statfsFn != nil {
		return c.statfsFn(path, st)
	}
	return statfs(path, st)
}

// scanMounts turns mountinfo into the df list: local, real, non-empty
// file systems, one per mount point (the one mounted last, which is what
// is visible) and one per device (the shortest mount point, as df does
// for bind mounts).
func (c *Collector) scanMounts(info []byte) []mount {
	type cand struct {
		m      mount
		majmin string
		drop   bool
	}
	var cands []cand
	parseMountinfo(info, func(e *mountEntry) {
		t := string(e.fsType)
		src := string(e.source)
		if pseudoFS[t] || remoteFS[t] || bytes.IndexByte(e.source, ':') >= 0 || bytes.HasPrefix(e.source, []byte("//")) {
			return
		}
		point := string(unescapeMount(nil, e.mountPoint))
		m := mount{point: point, df: !dfExclude[t], inode: !inodeExclude[t]}
		if !m.df && !m.inode {
			return
		}
		name := src
		if useMountPoint[src] {
			name = point
		}
		m.field = cleanFieldname(name)
		m.path = append([]byte(point), 0)
		cands = append(cands, cand{m: m, majmin: string(e.majmin)})
	})
	for i := range cands {
		for j := i + 1; j < len(cands); j++ {
			a, b := &cands[i], &cands[j]
			if a.drop || b.drop {
				continue
			}
			if a.m.point == b.m.point {
				a.drop = true // shadowed by the later mount
			} else if a.majmin == b.majmin {
				if len(b.m.point) < len(a.m.point) {
					a.drop = true
				} else {
					b.drop = true
				}
			}
		}
	}
	var out []mount
	names := map[string]bool{}
	for _, cd := range cands {
		if cd.drop || names[cd.m.field] {
			continue
		}
		var st syscall.Statfs_t
		if err := c.statfs(cd.m.path, &st); err != nil || st.Blocks == 0 {
			continue
		}
		if st.Files == 0 {
			cd.m.inode = false
		}
		names[cd.m.field] = true
		out = append(out, cd.m)
	}
	return out
}

func (c *Collector) fsGraphs() {
	s := &c.fs
	s.dfG = &munin.Graph{Name: "df", Title: "Disk usage in percent", Args: "--upper-limit 100 -l 0", VLabel: "%", Scale: "no", Category: "disk"}
	s.inodeG = &munin.Graph{Name: "df_inode", Title: "Inode usage in percent", Args: "--upper-limit 100 -l 0", VLabel: "%", Scale: "no", Category: "disk"}
	s.absG = &munin.Graph{Name: "df_abs", Title: "Filesystem usage (in bytes)", Args: "--base 1024 --lower-limit 0", VLabel: "bytes", Category: "disk", Total: "Total"}
	for _, m := range s.mounts {
		f := munin.Field{Name: m.field, Label: m.point, Warning: "92", Critical: "98"}
		if m.df {
			s.dfG.Fields = append(s.dfG.Fields, f)
			s.absG.Fields = append(s.absG.Fields, munin.Field{Name: m.field, Label: m.point})
		}
		if m.inode {
			s.inodeG.Fields = append(s.inodeG.Fields, f)
		}
	}
}

// readDF reports df (percent of blocks used), df_abs (bytes used) and
// df_inode (percent of inodes used). A filesystem whose statfs fails this
// round (unmounted meanwhile, no permission) reads U rather than failing
// the others.
func (c *Collector) readDF() error {
	s := &c.fs
	b, err := c.fr.readFile(c.proc, "/self/mountinfo")
	if err != nil {
		return err
	}
	if !s.ok || !bytes.Equal(b, s.lastInfo) {
		s.lastInfo = append(s.lastInfo[:0], b...)
		s.mounts = c.scanMounts(s.lastInfo)
		c.fsGraphs()
		s.ok = true
	}
	// Each graph's values must be contiguous, so one pass per graph; the
	// statfs results are cheap to redo but kept to one call per mount.
	type res struct {
		ok               bool
		pct, ipct, usedB float64
	}
	var small [16]res
	rs := small[:0]
	if len(s.mounts) > len(small) {
		rs = make([]res, 0, len(s.mounts))
	}
	for i := range s.mounts {
		m := &s.mounts[i]
		var r res
		if err := c.statfs(m.path, &s.st); err == nil {
			st := &s.st
			used := float64(st.Blocks) - float64(st.Bfree)
			avail := float64(st.Bavail)
			if used > 0 {
				r.pct = used / (used + avail) * 100
			}
			iused := float64(st.Files) - float64(st.Ffree)
			if iused > 0 && st.Files > 0 {
				r.ipct = iused / float64(st.Files) * 100
			}
			r.usedB = used * float64(st.Frsize)
			r.ok = true
		}
		rs = append(rs, r)
	}
	c.begin(s.dfG)
	for i, m := range s.mounts {
		if m.df {
			c.fsVal(m.field, rs[i].ok, rs[i].pct)
		}
	}
	c.begin(s.absG)
	for i, m := range s.mounts {
		if m.df {
			c.fsVal(m.field, rs[i].ok, rs[i].usedB)
		}
	}
	c.begin(s.inodeG)
	for i, m := range s.mounts {
		if m.inode {
			c.fsVal(m.field, rs[i].ok, rs[i].ipct)
		}
	}
	return nil
}

func (c *Collector) fsVal(field string, ok bool, v float64) {
	if ok {
		c.val(field, v)
	} else {
		c.valU(field)
	}
}
