using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 version-need entry of every libLibTorchSharp.so under Roots, but only
// when the system libstdc++ does not define that version. Idempotent; touches nothing else.
public class MarkGlibcxxNeedWeak : Task
{
    private const string Needed = "GLIBCXX_3.4.32";
    private static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    [Required] public string[] Roots { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        var libstdcxx = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (libstdcxx == null) return true; // unknown layout: leave everything untouched
        if (Contains(File.ReadAllBytes(libstdcxx), Encoding.ASCII.GetBytes(Needed + "\0"))) return true;

        foreach (var root in Roots.Where(r => !string.IsNullOrWhiteSpace(r) && Directory.Exists(r)).Distinct())
        {
            foreach (var lib in Directory.EnumerateFiles(root, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                try
                {
                    if (Patch(lib))
                        Log.LogMessage(MessageImportance.High, $"MLNetExtensions: marked {Needed} weak in {lib} (system libstdc++ lacks it).");
                }
                catch (Exception e)
                {
                    Log.LogWarning($"MLNetExtensions: could not patch {lib}: {e.Message}");
                }
            }
        }
        return true;
    }

    private static bool Contains(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    // Walks the ELF64 .gnu.version_r (SHT_GNU_verneed) list; returns true when a flag was changed.
    private static bool Patch(string path)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            return false; // only little-endian ELF64
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != 0x6ffffffe) continue; // SHT_GNU_verneed
            long off = BitConverter.ToInt64(b, (int)sh + 0x18);
            int link = BitConverter.ToInt32(b, (int)sh + 0x28), count = BitConverter.ToInt32(b, (int)sh + 0x2C);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            bool changed = false;
            long vn = off;
            for (int i = 0; i < count; i++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long nameAt = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = (int)nameAt;
                    while (b[end] != 0) end++;
                    if (Encoding.ASCII.GetString(b, (int)nameAt, end - (int)nameAt) == Needed)
                    {
                        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                        if ((flags & 0x2) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | 0x2)).CopyTo(b, (int)aux + 4);
                            changed = true;
                        }
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
            if (!changed) return false;
            var tmp = path + ".patching";
            File.WriteAllBytes(tmp, b);
            File.Replace(tmp, path, null); // rename: a reader never sees half a library
            return true;
        }
        return false;
    }
}
