using MLNetExtensions.Core.Text;
using MLNetExtensions.Transforms.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>Outputs of one <see cref="MiniVlm"/> forward (spliced coordinates: L = T − 1 + N).</summary>
public sealed class VlmOutput : IDisposable
{
    internal VlmOutput(Tensor logits, Tensor visionTokens, Tensor? attention, Tensor mask, long[] visionStart, int visionCount)
    {
        Logits = logits; VisionTokens = visionTokens; Attention = attention; Mask = mask; VisionStart = visionStart; VisionCount = visionCount;
    }
    /// <summary>(B, L, V) logits.</summary>
    public Tensor Logits { get; }
    /// <summary>Projected vision tokens Z (B, N, D).</summary>
    public Tensor VisionTokens { get; }
    /// <summary>Layer-0 attention probabilities (B, H, L, L), query axis then key axis (null when not requested).</summary>
    public Tensor? Attention { get; }
    /// <summary>Spliced attention mask (B, L): 1 real, 0 pad.</summary>
    public Tensor Mask { get; }
    /// <summary>Per row, the first vision position s (the placeholder's index).</summary>
    public long[] VisionStart { get; }
    /// <summary>Vision tokens per image (N).</summary>
    public int VisionCount { get; }
    /// <inheritdoc/>
    public void Dispose() { Logits.Dispose(); VisionTokens.Dispose(); Attention?.Dispose(); Mask.Dispose(); }
}

/// <summary>
/// A LLaVA-style miniature VLM (Align-KD note §5.2): the frozen <see cref="ConvVisionTower"/> (never trained here:
/// its forward runs under no-grad, like CLIP in MobileVLM), the <see cref="LdpV2Projector"/> (<c>mm_projector</c>)
/// and a <see cref="CausalLm"/> (<c>lm</c>). The single <see cref="TextTokenizer.ImageId"/> placeholder of each row is
/// replaced by the N projected vision tokens; layer-0 attention is computed explicitly (no fused kernel).
/// </summary>
public sealed class MiniVlm : nn.Module<Dictionary<string, Tensor>, Dictionary<string, Tensor>>
{
    private readonly ConvVisionTower vision_tower;
    private readonly LdpV2Projector mm_projector;
    private readonly CausalLm lm;

    /// <summary>Creates the model (tower random until <see cref="LoadVisionTower"/>).</summary>
    public MiniVlm(MiniVlmConfig config) : base(nameof(MiniVlm))
    {
        config.Validate();
        Config = config;
        vision_tower = new ConvVisionTower();
        mm_projector = new LdpV2Projector(ConvVisionTower.Channels, config.DModel, config.PooledSide);
        lm = new CausalLm(config.Lm);
        RegisterComponents();
        foreach (var p in vision_tower.parameters()) p.requires_grad = false;
    }

    /// <summary>The architecture.</summary>
    public MiniVlmConfig Config { get; }
    /// <summary>The frozen tower.</summary>
    public ConvVisionTower VisionTower => vision_tower;
    /// <summary>The projector.</summary>
    public LdpV2Projector Projector => mm_projector;
    /// <summary>The language model.</summary>
    public CausalLm Lm => lm;

    /// <summary>Copies a (pre-trained) tower's weights into this model's frozen tower.</summary>
    public void LoadVisionTower(ConvVisionTower tower)
    {
        using var _ = no_grad();
        var src = tower.state_dict();
        foreach (var (name, p) in vision_tower.named_parameters()) p.copy_(src[name]);
    }

    /// <summary>The tower's scene grid (B, 32, 8, 8) of scenes (B, 1, 56, 56), under no-grad.</summary>
    public Tensor VisionGrid(Tensor scenes)
    {
        using var _ = no_grad();
        return vision_tower.SceneGrid(scenes);
    }

    /// <summary>Serving input: scenes (B, 1, 56, 56).</summary>
    public const string ImageSlot = "image";
    /// <summary>Serving input: prompt ids (B, T) (bos, placeholder, question), right-padded, with <c>prompt.mask</c>.</summary>
    public const string PromptSlot = "prompt";
    /// <summary>Serving output: greedy answer ids (B, MaxAnswerTokens), eos included, pad after it.</summary>
    public const string AnswerIdsSlot = "answer_ids";
    /// <summary>Serving output: the answer's probability (B, 1): exp of the summed log-probabilities of its tokens.</summary>
    public const string AnswerScoreSlot = "answer_score";

    /// <summary>
    /// The served forward: greedy decoding of the answer to each prompt about its scene (each step re-runs the prefix;
    /// prompts are left-aligned to their real tokens), with the answer's probability.
    /// </summary>
    public override Dictionary<string, Tensor> forward(Dictionary<string, Tensor> inputs)
    {
        if (!inputs.TryGetValue(ImageSlot, out var image))
            throw new KeyNotFoundException($"MiniVlm reads slot '{ImageSlot}' (and '{PromptSlot}'); got {string.Join(", ", inputs.Keys)}.");
        if (training)
        {
            // Training mode: teacher-forced logits of the prompt (default [bos, image]) with gradient; no decoding.
            using var ts = NewDisposeScope();
            var tfIds = inputs.TryGetValue(PromptSlot, out var pr) ? pr.to_type(ScalarType.Int64)
                : tensor(new long[] { TextTokenizer.BosId, TextTokenizer.ImageId }, device: image.device).unsqueeze(0).expand(image.shape[0], 2);
            inputs.TryGetValue(PromptSlot + ".mask", out var tm);
            using var o = Run(VisionGrid(image), tfIds, tm);
            return new Dictionary<string, Tensor> { ["logits"] = o.Logits.alias().MoveToOuterDisposeScope() };
        }
        if (!inputs.TryGetValue(PromptSlot, out var prompt))
            throw new KeyNotFoundException($"MiniVlm reads slots '{ImageSlot}' and '{PromptSlot}'; got {string.Join(", ", inputs.Keys)}.");
        inputs.TryGetValue(PromptSlot + ".mask", out var pmask);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long b = prompt.shape[0], t = prompt.shape[1];
        var ids = prompt.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var m = pmask is null ? Enumerable.Repeat(1L, (int)(b * t)).ToArray() : pmask.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        // Left-pad: the next token is always read at the last position.
        var rows = new List<long>[b];
        for (int r = 0; r < b; r++) rows[r] = Enumerable.Range(0, (int)t).Where(j => m[r * t + j] != 0).Select(j => ids[r * t + j]).ToList();
        var grid = VisionGrid(image);
        int k = Config.MaxAnswerTokens;
        var answer = Enumerable.Repeat((long)TextTokenizer.PadId, (int)(b * k)).ToArray();
        var logp = new double[b];
        var done = new bool[b];
        for (int step = 0; step < k && done.Contains(false); step++)
        {
            using var stepScope = NewDisposeScope();
            int len = rows.Max(x => x.Count);
            var flat = new long[b * len]; var mask = new long[b * len];
            for (int r = 0; r < b; r++)
                for (int j = 0; j < rows[r].Count; j++) { flat[r * len + len - rows[r].Count + j] = rows[r][j]; mask[r * len + len - rows[r].Count + j] = 1; }
            using var o = Run(grid, tensor(flat, new long[] { b, len }, device: grid.device), tensor(mask, new long[] { b, len }, device: grid.device));
            var last = o.Logits.select(1, o.Logits.shape[1] - 1).to_type(ScalarType.Float32).log_softmax(-1);
            var best = last.max(1);
            var tokens = best.indexes.cpu().data<long>().ToArray();
            var values = best.values.cpu().data<float>().ToArray();
            for (int r = 0; r < b; r++)
            {
                if (done[r]) continue;
                answer[r * k + step] = tokens[r];
                logp[r] += values[r];
                rows[r].Add(tokens[r]);
                if (tokens[r] == TextTokenizer.EosId) done[r] = true;
            }
        }
        var result = new Dictionary<string, Tensor>
        {
            [AnswerIdsSlot] = tensor(answer, new long[] { b, k }, device: grid.device).MoveToOuterDisposeScope(),
            [AnswerScoreSlot] = tensor(logp.Select(v => (float)Math.Exp(v)).ToArray(), new long[] { b, 1 }, device: grid.device).MoveToOuterDisposeScope(),
        };
        return result;
    }

    /// <summary>
    /// The forward from a scene grid (B, 32, 8, 8) (see <see cref="VisionGrid"/>; precomputable per item) and text ids
    /// (B, T) holding exactly one <see cref="TextTokenizer.ImageId"/> per row, with an optional (B, T) mask.
    /// <paramref name="attentionLayer0"/> returns the layer-0 attention probabilities.
    /// </summary>
    public VlmOutput Run(Tensor grid, Tensor ids, Tensor? mask = null, bool attentionLayer0 = false)
    {
        using var scope = NewDisposeScope();
        var z = mm_projector.call(grid);
        var (embeds, spliced, starts) = Splice(lm.EmbedTokens(ids), ids, mask, z);
        using var o = lm.Run(inputsEmbeds: embeds, attentionMask: spliced, attentionLayers: attentionLayer0 ? new[] { 0 } : null);
        var logits = o.Logits!.alias().MoveToOuterDisposeScope();
        var att = attentionLayer0 ? o.Attentions![0]!.alias().MoveToOuterDisposeScope() : null;
        return new VlmOutput(logits, z.MoveToOuterDisposeScope(), att, spliced.MoveToOuterDisposeScope(), starts, Config.VisionTokens);
    }

    /// <summary>The image placeholder's index per row; throws unless each row holds exactly one.</summary>
    public static long[] PlaceholderIndex(Tensor ids)
    {
        var host = ids.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        long b = ids.shape[0], t = ids.shape[1];
        var s = new long[b];
        for (long r = 0; r < b; r++)
        {
            int count = 0;
            for (long j = 0; j < t; j++) if (host[r * t + j] == TextTokenizer.ImageId) { count++; s[r] = j; }
            if (count != 1) throw new ArgumentException($"MiniVlm: row {r} holds {count} image placeholders ({TextTokenizer.ImageId}); exactly one is expected.");
        }
        return s;
    }

    /// <summary>
    /// Replaces each row's placeholder embedding by the N vision tokens: embeds (B, T, D), z (B, N, D) give
    /// (B, T − 1 + N, D), the spliced mask and the vision start per row (the placeholder's index).
    /// </summary>
    public static (Tensor Embeds, Tensor Mask, long[] Starts) Splice(Tensor embeds, Tensor ids, Tensor? mask, Tensor z)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1], n = z.shape[1];
        var starts = PlaceholderIndex(ids);
        var m = mask ?? ones(b, t, ScalarType.Int64, ids.device);
        var vm = ones(b, n, m.dtype, m.device);
        Tensor e, sm;
        if (starts.All(s => s == starts[0]))
        {
            long s = starts[0];
            e = cat(new[] { embeds.narrow(1, 0, s), z.to_type(embeds.dtype), embeds.narrow(1, s + 1, t - s - 1) }, 1);
            sm = cat(new[] { m.narrow(1, 0, s), vm, m.narrow(1, s + 1, t - s - 1) }, 1);
        }
        else
        {
            var rows = new Tensor[b]; var masks = new Tensor[b];
            for (long r = 0; r < b; r++)
            {
                long s = starts[r];
                rows[r] = cat(new[] { embeds[r].narrow(0, 0, s), z[r].to_type(embeds.dtype), embeds[r].narrow(0, s + 1, t - s - 1) }, 0);
                masks[r] = cat(new[] { m[r].narrow(0, 0, s), vm[r], m[r].narrow(0, s + 1, t - s - 1) }, 0);
            }
            e = stack(rows); sm = stack(masks);
        }
        return (e.MoveToOuterDisposeScope(), sm.MoveToOuterDisposeScope(), starts);
    }

    /// <summary>Host-side splice of ids: the placeholder becomes N copies of <paramref name="fill"/> (spliced coordinates).</summary>
    public static long[] SpliceIds(IReadOnlyList<long> ids, int visionTokens, long fill = TextTokenizer.PadId)
    {
        int s = -1;
        for (int j = 0; j < ids.Count; j++) if (ids[j] == TextTokenizer.ImageId) { if (s >= 0) throw new ArgumentException("MiniVlm.SpliceIds: more than one image placeholder."); s = j; }
        if (s < 0) throw new ArgumentException("MiniVlm.SpliceIds: no image placeholder.");
        return ids.Take(s).Concat(Enumerable.Repeat(fill, visionTokens)).Concat(ids.Skip(s + 1)).ToArray();
    }
}
