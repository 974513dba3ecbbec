using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Training;

/// <summary>A classifier-head tensor of the checkpoint that was not loaded because its shape differs from the model's.</summary>
/// <param name="Key">State-dict key.</param>
/// <param name="CheckpointShape">Shape in the checkpoint.</param>
/// <param name="ModelShape">Shape in the model (it keeps its initial values).</param>
public sealed record SkippedTensor(string Key, long[] CheckpointShape, long[] ModelShape);

/// <summary>What <see cref="PretrainedWeights.Load"/> did.</summary>
/// <param name="Path">The checkpoint file.</param>
/// <param name="Loaded">Model keys copied from the checkpoint.</param>
/// <param name="SkippedHead">Classifier-head tensors whose shape differs (fine-tuning on another class count); they keep their initial values.</param>
/// <param name="Missing">Model keys absent from the checkpoint (they keep their initial values).</param>
/// <param name="Unexpected">Checkpoint keys the model does not have (ignored).</param>
public sealed record PretrainedLoadReport(string Path, IReadOnlyList<string> Loaded, IReadOnlyList<SkippedTensor> SkippedHead,
    IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected)
{
    /// <summary>One line for the log.</summary>
    public string Summary =>
        $"Loaded {Loaded.Count} tensors from '{Path}'" +
        (SkippedHead.Count > 0 ? $"; classifier head not loaded (other class count): {string.Join(", ", SkippedHead.Select(s => $"{s.Key} [{Shape(s.CheckpointShape)}] → [{Shape(s.ModelShape)}]"))}" : "") +
        (Missing.Count > 0 ? $"; {Missing.Count} model tensors not in the checkpoint kept their initial values (e.g. {Missing[0]})" : "") +
        (Unexpected.Count > 0 ? $"; {Unexpected.Count} checkpoint tensors ignored (e.g. {Unexpected[0]})" : "") + ".";

    internal static string Shape(long[] s) => string.Join(",", s);
}

/// <summary>
/// Loads an official PyTorch checkpoint (<c>torch.save(state_dict)</c> <c>.pt</c>/<c>.pth</c>, optionally wrapped in
/// a <c>{"state_dict": …}</c> or <c>{"model": …}</c> dict, or a <c>.safetensors</c> file) into a module by name, for
/// fine-tuning: every tensor whose key and shape match is copied; a classifier-head tensor whose shape differs (the
/// checkpoint was trained on another class count) is skipped and reported; any other shape difference is an error
/// naming the key and both shapes.
/// </summary>
/// <remarks>
/// TorchSharp.PyBridge's <c>load_py(strict: false)</c> cannot do this: it fails while viewing the checkpoint's
/// storage with the model's (different) shape before it can skip the tensor. Here the state dict is unpickled into
/// tensors of the checkpoint's own shapes (<c>PyTorchUnpickler.UnpickleStateDict</c>) and compared first.
/// </remarks>
public static class PretrainedWeights
{
    /// <summary>
    /// The default head rule: a rank-1 or rank-2 model tensor whose first dimension is the class count (a Linear
    /// classifier's weight or bias), with a checkpoint tensor that differs from it only in that first dimension.
    /// </summary>
    public static Func<string, long[], long[], bool> ClassifierOutputs(int numClasses) => (_, model, checkpoint) =>
        model.Length is 1 or 2 && model.Length == checkpoint.Length && model[0] == numClasses && model.Skip(1).SequenceEqual(checkpoint.Skip(1));

    /// <summary>A head rule by key prefix (e.g. <c>cls_head.</c>), for models whose head layout is known.</summary>
    public static Func<string, long[], long[], bool> KeysStartingWith(params string[] prefixes) => (key, _, _) =>
        prefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Loads the matching tensors of <paramref name="path"/> into <paramref name="model"/> (see the class remarks).</summary>
    /// <param name="model">Target module; its <c>state_dict()</c> keys are matched against the checkpoint's.</param>
    /// <param name="path">Checkpoint file.</param>
    /// <param name="isClassifierHead">(key, model shape, checkpoint shape) → true when a shape difference is an expected head difference.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">A non-head tensor has another shape, or no tensor name matches (another architecture).</exception>
    public static PretrainedLoadReport Load(nn.Module model, string path, Func<string, long[], long[], bool> isClassifierHead)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(isClassifierHead);
        if (!File.Exists(path)) throw new FileNotFoundException($"Pretrained weights '{path}' do not exist.", path);
        var checkpoint = Read(path);
        try
        {
            var sd = model.state_dict();
            var loaded = new List<string>();
            var skipped = new List<SkippedTensor>();
            var missing = new List<string>();
            // Compare everything before copying anything, so a refused checkpoint leaves the model untouched.
            foreach (var (key, target) in sd)
            {
                if (!checkpoint.TryGetValue(key, out var source)) { missing.Add(key); continue; }
                if (source.shape.SequenceEqual(target.shape)) { loaded.Add(key); continue; }
                if (isClassifierHead(key, target.shape, source.shape)) { skipped.Add(new SkippedTensor(key, source.shape, target.shape)); continue; }
                throw new ArgumentException($"Pretrained weights '{path}': tensor '{key}' has shape [{PretrainedLoadReport.Shape(source.shape)}] " +
                    $"but the model expects [{PretrainedLoadReport.Shape(target.shape)}]; only the classifier head may differ (another class count). " +
                    "Check that the model's configuration (variant, width, frames, input channels) matches the checkpoint's.", nameof(path));
            }
            if (loaded.Count == 0)
                throw new ArgumentException($"Pretrained weights '{path}' share no tensor name with this model (checkpoint keys e.g. " +
                    $"'{checkpoint.Keys.FirstOrDefault()}', model keys e.g. '{sd.Keys.FirstOrDefault()}'); it belongs to another architecture.", nameof(path));
            using (torch.no_grad())
                foreach (var key in loaded) sd[key].copy_(checkpoint[key]);
            var unexpected = checkpoint.Keys.Where(k => !sd.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            return new PretrainedLoadReport(path, loaded, skipped, missing, unexpected);
        }
        finally
        {
            foreach (var t in checkpoint.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Names what the file is when it cannot be a torch.save state dict, before the unpickler's messages (which call
    /// every non-zip file "the old PyTorch format") or a model zip's "Sequence contains no matching element" confuse.
    /// </summary>
    internal static void CheckLooksLikeStateDict(string path)
    {
        const string expected = "expected a PyTorch state_dict saved with torch.save (.pt/.pth/.bin) or a .safetensors file";
        var head = new byte[64];
        int n;
        using (var f = File.OpenRead(path)) n = f.Read(head, 0, head.Length);
        if (n == 0) throw new ArgumentException($"PretrainedWeightsPath '{path}' is an empty file; {expected}.", "PretrainedWeightsPath");
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
        {
            using var zip = System.IO.Compression.ZipFile.OpenRead(path);
            var names = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).ToList();
            if (names.Any(e => e.EndsWith("data.pkl", StringComparison.Ordinal))) return; // torch.save's zip format
            if (names.Any(e => e.StartsWith("TransformerChain/", StringComparison.Ordinal) || e == "TrainingInfo/Version.txt" ||
                               e.StartsWith("Model/", StringComparison.Ordinal)))
                throw new ArgumentException($"PretrainedWeightsPath '{path}' is an ML.NET model zip (mlContext.Model.Save), not a state dict: " +
                    "load it with mlContext.Model.Load to serve or inspect it, or give the official PyTorch state_dict; " + expected + ".", "PretrainedWeightsPath");
            throw new ArgumentException($"PretrainedWeightsPath '{path}' is a zip without torch.save's data.pkl (entries e.g. " +
                $"{string.Join(", ", names.Take(3))}); {expected}.", "PretrainedWeightsPath");
        }
        if (head[0] == 0x80) return; // a pickle: torch.save's legacy format
        int printable = head.Take(n).Count(b => b is 9 or 10 or 13 || (b >= 32 && b < 127));
        if (printable == n)
            throw new ArgumentException($"PretrainedWeightsPath '{path}' is a text file (starts with " +
                $"\"{System.Text.Encoding.ASCII.GetString(head, 0, Math.Min(n, 24)).ReplaceLineEndings(" ")}\"); {expected}.", "PretrainedWeightsPath");
    }

    /// <summary>Reads every tensor of a state-dict file (all dtypes, e.g. BatchNorm's int64 <c>num_batches_tracked</c>).</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Pretrained weights '{path}' do not exist.", path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return new Dictionary<string, Tensor>(Safetensors.LoadStateDict(path), StringComparer.Ordinal);
        CheckLooksLikeStateDict(path);
        Hashtable table;
        try { table = PyTorchUnpickler.UnpickleStateDict(path); }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new ArgumentException($"Pretrained weights '{path}' could not be read as a PyTorch state dict: {e.Message}", nameof(path), e);
        }
        // Training checkpoints wrap the weights (mmaction: "state_dict"; DeiT/TinyViM recipes: "model"; GeminiFusion/TokenFusion: "segmenter").
        foreach (var wrapper in new[] { "state_dict", "model", "segmenter" })
            if (!table.Values.OfType<Tensor>().Any() && table[wrapper] is Hashtable inner) { table = inner; break; }
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in table)
            if (e.Key is string k && e.Value is Tensor t) tensors[k] = t;
        if (tensors.Count == 0) throw new ArgumentException($"Pretrained weights '{path}' hold no tensors at the top level nor under 'state_dict'/'model'/'segmenter'.", nameof(path));
        return tensors;
    }
}
