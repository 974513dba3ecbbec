using MLNetExtensions.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.AlignKd;

/// <summary>
/// The Align-KD adapters (note §2.5): a head adapter (1×1 over the head axis, <c>einsum("hk,bkij->bhij")</c> + bias)
/// and a projection adapter (a per-token Linear). Their side and trainability follow the options: the learnable forms
/// sit on the student side (predict the teacher); the code-faithful forms sit on the teacher side with PyTorch's
/// default U(±1/√fan_in) initialisation and <c>requires_grad = false</c> (the released code never optimises them).
/// </summary>
public sealed class AlignKdAdapters : nn.Module
{
    private readonly Parameter? attn_adapter_weight;
    private readonly Parameter? attn_adapter_bias;
    private readonly Linear? proj_adapter;

    /// <summary>Creates the adapters for student/teacher heads and widths.</summary>
    public AlignKdAdapters(AlignKdObjectiveOptions options, int studentHeads, int teacherHeads, int studentWidth, int teacherWidth)
        : base(nameof(AlignKdAdapters))
    {
        options.Validate();
        Options = options;
        using var _ = no_grad();
        using var gen = new Generator().manual_seed(options.AdapterSeed);
        if (options.HeadAdapter != HeadAdapter.HeadMean)
        {
            bool learnable = options.HeadAdapter == HeadAdapter.Learnable;
            int outH = learnable ? teacherHeads : studentHeads, inH = learnable ? studentHeads : teacherHeads;
            Tensor w, b;
            if (learnable)
            {
                // Starts as the head-mean (every teacher head predicted by the student's mean), then learns.
                w = ScalarOps.Full(new long[] { outH, inH }, (double)(1.0f / inH), ScalarType.Float32);
                b = zeros(outH);
            }
            else
            {
                double bound = 1.0 / Math.Sqrt(inH);
                w = Uniform(new long[] { outH, inH }, bound, gen);
                b = Uniform(new long[] { outH }, bound, gen);
            }
            attn_adapter_weight = new Parameter(w, requires_grad: learnable);
            attn_adapter_bias = new Parameter(b, requires_grad: learnable);
        }
        bool projLearnable = options.ProjectionAdapter == ProjectionAdapter.Learnable;
        proj_adapter = projLearnable ? nn.Linear(studentWidth, teacherWidth) : nn.Linear(teacherWidth, studentWidth);
        int fanIn = projLearnable ? studentWidth : teacherWidth;
        double pb = 1.0 / Math.Sqrt(fanIn);
        proj_adapter.weight!.copy_(Uniform(proj_adapter.weight.shape, pb, gen));
        proj_adapter.bias!.copy_(Uniform(proj_adapter.bias.shape, pb, gen));
        if (!projLearnable) foreach (var p in proj_adapter.parameters()) p.requires_grad = false;
        RegisterComponents();
    }

    // U(−bound, bound) drawn as rand·2b − b (the official init's formula), scalars rooted.
    private static Tensor Uniform(long[] shape, double bound, Generator gen) =>
        rand(shape, generator: gen).TimesInPlace(2 * bound).PlusInPlace(-bound);

    /// <summary>The options the adapters were built for.</summary>
    public AlignKdObjectiveOptions Options { get; }

    /// <summary>The head adapter's bias c_a (null with HeadMean).</summary>
    public Tensor? HeadBias => attn_adapter_bias;

    /// <summary>Head-matched (student, target) attention maps.</summary>
    public (Tensor Student, Tensor Target) MatchHeads(Tensor studentAttention, Tensor teacherAttention)
    {
        using var scope = NewDisposeScope();
        Tensor s, t;
        switch (Options.HeadAdapter)
        {
            case HeadAdapter.HeadMean:
                s = studentAttention.mean(new long[] { 1 }, keepdim: true);
                t = teacherAttention.mean(new long[] { 1 }, keepdim: true);
                break;
            case HeadAdapter.Learnable:
                s = einsum("hk,bkij->bhij", attn_adapter_weight!, studentAttention).Plus(attn_adapter_bias!.reshape(1, -1, 1, 1));
                t = teacherAttention;
                break;
            default:
                s = studentAttention;
                t = einsum("hk,bkij->bhij", attn_adapter_weight!, teacherAttention).Plus(attn_adapter_bias!.reshape(1, -1, 1, 1));
                break;
        }
        return (s.MoveToOuterDisposeScope(), t.MoveToOuterDisposeScope());
    }

    /// <summary>(prediction, target) projected vision tokens for L_V.</summary>
    public (Tensor Prediction, Tensor Target) MatchTokens(Tensor studentTokens, Tensor teacherTokens)
    {
        if (Options.ProjectionAdapter == ProjectionAdapter.Learnable)
            return (proj_adapter!.call(studentTokens), teacherTokens.alias());
        return (studentTokens.alias(), proj_adapter!.call(teacherTokens));
    }
}
