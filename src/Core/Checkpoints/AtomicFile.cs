namespace MLNetExtensions.Core.Checkpoints;

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
        // Makes the rename itself durable where the OS allows opening a directory (Linux); best effort elsewhere.
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            using var h = File.OpenHandle(dir, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(h);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
