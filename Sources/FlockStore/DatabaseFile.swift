#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates the database file and its directories before SQLite sees them, owner-only.
///
/// The store holds pool names, addresses and the full text of every policy, so only the user
/// that runs Flock may read it. Creating the file ourselves with mode 0600 is enough for its
/// companions too: SQLite creates `-wal` and `-shm` with the database file's permissions. This
/// avoids changing the process-wide umask, which other threads may be relying on at the time.
/// Files and directories that already exist are left as the operator set them.
enum DatabaseFile {
    static func prepare(path: String) throws {
        try prepareDirectory(of: path)
        // O_EXCL: never open (and so never close) a descriptor on a file SQLite may already have
        // open in this process, because closing any descriptor drops the process's POSIX locks on it.
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw StoreError.cannotCreate("database file", path: path, errno: errno)
        }
    }

    /// Creates the directory that will hold the file at `path`, if it is missing.
    static func prepareDirectory(of path: String) throws {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
    }

    /// `mkdir -p` with mode 0700 for every directory it creates.
    private static func makeDirectory(_ dir: String) throws {
        var info = stat()
        if stat(dir, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw StoreError.cannotCreate("directory", path: dir, errno: ENOTDIR)
            }
            return
        }
        if let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
            try makeDirectory(String(dir[..<slash]))
        }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw StoreError.cannotCreate("directory", path: dir, errno: errno)
        }
    }
}
