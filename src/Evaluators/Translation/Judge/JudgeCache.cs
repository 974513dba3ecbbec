using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MLNetExtensions.Evaluators.Translation.Judge;

/// <summary>
/// Content-addressed on-disk cache of judge answers: one JSON file per SHA-256 key of everything that determines
/// the answer (model, template id and version, dimension, texts, decoding settings). Files are written atomically
/// as soon as an answer is parsed, so an interrupted evaluation resumes and a rerun makes no calls.
/// </summary>
public sealed class JudgeCache
{
    /// <summary>A stored raw answer.</summary>
    /// <param name="Raw">Raw model text (re-parsed on load, so parser fixes apply to old entries).</param>
    /// <param name="Attempts">HTTP attempts it took originally.</param>
    /// <param name="Kind">Dimension or "pairwise".</param>
    /// <param name="Model">Judge model.</param>
    /// <param name="Template">Template id and version.</param>
    public sealed record Entry(string Raw, int Attempts, string Kind, string Model, string Template);

    /// <summary>Opens (and creates) the cache directory.</summary>
    public JudgeCache(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = System.IO.Directory.CreateDirectory(directory).FullName;
    }

    /// <summary>Cache directory.</summary>
    public string Directory { get; }

    /// <summary>SHA-256 (hex) of the length-prefixed parts, so ("ab","c") and ("a","bc") differ.</summary>
    public static string Key(params string?[] parts)
    {
        var sb = new StringBuilder();
        foreach (var p in parts) sb.Append(p is null ? "-1:" : $"{p.Length}:").Append(p).Append('|');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private string PathOf(string key) => Path.Combine(Directory, key[..2], key + ".json");

    /// <summary>Reads an entry; a missing or corrupt file is a miss.</summary>
    public bool TryGet(string key, out Entry? entry)
    {
        entry = null;
        var path = PathOf(key);
        if (!File.Exists(path)) return false;
        try
        {
            entry = JsonSerializer.Deserialize<Entry>(File.ReadAllText(path));
            return entry is not null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Writes an entry atomically (temp file, then rename).</summary>
    public void Put(string key, Entry entry)
    {
        var path = PathOf(key);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(entry));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Number of stored answers.</summary>
    public int Count => System.IO.Directory.Exists(Directory) ? System.IO.Directory.EnumerateFiles(Directory, "*.json", SearchOption.AllDirectories).Count() : 0;
}
