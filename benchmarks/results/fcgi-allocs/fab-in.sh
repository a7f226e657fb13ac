# inside the trixie bench root (from /src): hello set, subinterp only, old (1dca8cc) and new (HEAD) binaries alternating
# run as: .ci/chroot-suite trixie env MODES=subinterp SETS=hello ROUNDS=3 MEM_WORKERS= bash /dev/stdin < fab-in.sh
# (with WARMCGI_CI_CACHE=/var/cache/warmcgi-bench), after `git diff 1dca8cc 9cc1bf8 -- internal/frontend >ROOT/root/fcgi.patch`
set -u
mount -t tmpfs cg /sys/fs/cgroup && mkdir -p /sys/fs/cgroup/cpuacct && mount -t cgroup -o cpuacct cgroup /sys/fs/cgroup/cpuacct
make build >/dev/null 2>&1 && cp bin/warmcgi /root/w-new || { echo build failed; exit 1; }
git_old=/root/old-src
rm -rf $git_old && cp -a /src $git_old
( cd $git_old && git apply -R /root/fcgi.patch && make build >/dev/null 2>&1 ) && cp $git_old/bin/warmcgi /root/w-old || { echo old build failed; exit 1; }
grep -c "string(text\[:klen\])" $git_old/internal/frontend/fcgiproto.go
rm -rf /root/res-fab; mkdir -p /root/res-fab
for r in old1 new1 old2 new2; do
  v=${r%?}
  RESULTS=/root/res-fab RUN_TAG=s20fcgi-$r WARMCGI=/root/w-$v benchmarks/run.sh >/root/res-fab/$r.log 2>&1 || echo "$r failed"
done
umount /sys/fs/cgroup/cpuacct; umount /sys/fs/cgroup
