using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Models;

namespace MLNetExtensions.Core.Inference;

/// <summary>ML.NET getters over a row's output value as <see cref="TorchTransformerBase"/> produces it.</summary>
internal static class OutputGetters
{
    public static ValueGetter<TValue> Make<TValue>(OutputSpec spec, Func<object> current)
    {
        Delegate d = spec.Kind switch
        {
            OutputKind.Scores or OutputKind.VariableScores => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var v = (float[])current();
                var e = VBufferEditor.Create(ref dst, v.Length);
                v.CopyTo(e.Values);
                dst = e.Commit();
            }),
            OutputKind.ArgmaxKey => (ValueGetter<uint>)((ref uint dst) => dst = (uint)current()),
            OutputKind.ArgmaxKeyMap or OutputKind.VariableKeys => (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
            {
                var v = (uint[])current();
                var e = VBufferEditor.Create(ref dst, v.Length);
                v.CopyTo(e.Values);
                dst = e.Commit();
            }),
            OutputKind.Scalar => (ValueGetter<float>)((ref float dst) => dst = (float)current()),
            OutputKind.Text => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> dst) => dst = ((string)current()).AsMemory()),
            _ => throw new NotSupportedException(spec.Kind.ToString()),
        };
        return d as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{spec.Column}' ({spec.Kind}) cannot be read as {typeof(TValue).Name}.");
    }
}
