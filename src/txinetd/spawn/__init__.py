"""
Starting external servers: each a child of the daemon that sets its own
ids, limits and descriptors before it executes the server (the C extension
C{_launch}, or a fork where it is not built), watched until it is reaped.

  - C{spawner}: the L{Spawner<txinetd.spawn.spawner.Spawner>} the daemon
    starts servers with (and the names its callers need);
  - C{spec}: how a service's servers are started, checked once;
  - C{process}: a server from the daemon's side, and how it ended;
  - C{children}: the watch on one child (status pipe, pidfd, reaping);
  - C{plan}: what one child does before its exec, and its credentials;
  - C{launcher}: the seam every way of starting a child implements;
  - C{launch}: the C{clone(CLONE_VM)} launcher and the choice of one;
  - C{forklaunch}: the C{os.fork} launcher, in Python;
  - C{report}: what a child reports when a step fails.
"""
