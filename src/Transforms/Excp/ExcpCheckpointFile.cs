namespace MLNetExtensions.Transforms.Excp;

/// <summary>
/// A standalone, lossless checkpoint file in the ExCP container (a single key frame: same header, checksums and zstd
/// pass). This is the suite's own uncompressed checkpoint format, and what the CLI reads and writes besides PyTorch files.
/// </summary>
public static class ExcpCheckpointFile
{
    /// <summary>Writes <paramref name="checkpoint"/> losslessly and atomically.</summary>
    public static void Write(string path, TrainingCheckpoint checkpoint, int zstdLevel = 3) =>
        ExcpFile.Write(path, ExcpCodec.KeyFrame(checkpoint, new ExcpOptions { ZstdLevel = zstdLevel }).Link);

    /// <summary>Reads a lossless checkpoint file (a key frame); a residual link needs its chain (<see cref="ExcpChain"/>).</summary>
    public static TrainingCheckpoint Read(string path)
    {
        var link = ExcpFile.Read(path);
        if (!link.IsKeyFrame) throw new ExcpFormatException(path, link.Step, $"this is a chain link (parent step {link.ParentStep}); decode it through its chain folder.");
        return ExcpCodec.Decode(link, null, path);
    }
}
