namespace MLNetExtensions.Core.IO;

/// <summary>Crash-safe file replacement: write a temp file in the same folder, fsync, then rename over the target.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> atomically: a crash at any point leaves either the old file or the new one,
    /// never a partial file under the final name (rename within a folder is atomic on POSIX and NTFS).
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
            FsyncDirectory(dir);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    private static void FsyncDirectory(string dir)
    {
        // Makes the rename itself durable. .NET cannot open a directory handle, so call open/fsync from libc on Linux.
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            int fd = Native.open(dir, 0 /* O_RDONLY */);
            if (fd < 0) return;
            try { Native.fsync(fd); } finally { Native.close(fd); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    private static class Native
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)] public static extern int open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
        [System.Runtime.InteropServices.DllImport("libc")] public static extern int close(int fd);
    }
}
