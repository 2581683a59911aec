import Foundation

/// A parent initrd made of the guest image's plus extra files, without rebuilding the image:
/// the kernel unpacks concatenated cpio archives as one initramfs, later files over earlier ones.
///
/// The extra archive is uncompressed newc, written here (no cpio or gzip run). The kernel looks
/// for an uncompressed archive's magic only at 4-byte offsets, so it follows NUL padding.
enum ExtraInitrd {
    struct File {
        var path: String
        var contents: String
        var mode: Int
    }

    /// Writes `base` + `files` (and the directories above them) to `destination`.
    static func write(base: String, adding files: [File], to destination: String) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: base))
        data.append(Data(count: (4 - data.count % 4) % 4))
        var directories: [String] = []
        for file in files {
            var parts = file.path.split(separator: "/").dropLast()
            var prefixes: [String] = []
            while !parts.isEmpty {
                prefixes.insert(parts.joined(separator: "/"), at: 0)
                parts.removeLast()
            }
            directories += prefixes.filter { !directories.contains($0) }
        }
        var inode = 0x10000
        func entry(_ name: String, mode: Int, body: [UInt8]) {
            inode += 1
            let fields = [inode, mode, 0, 0, 1, 0, body.count, 0, 0, 0, 0, name.utf8.count + 1, 0]
            var header = Array("070701".utf8)
            for field in fields { header += Array(String(format: "%08X", field).utf8) }
            header += Array(name.utf8) + [0]
            header += [UInt8](repeating: 0, count: (4 - header.count % 4) % 4)
            data.append(contentsOf: header + body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4))
        }
        for directory in directories { entry(directory, mode: 0o040755, body: []) }
        for file in files { entry(file.path, mode: 0o100000 | file.mode, body: Array(file.contents.utf8)) }
        entry("TRAILER!!!", mode: 0, body: [])
        try data.write(to: URL(fileURLWithPath: destination))
    }
}
