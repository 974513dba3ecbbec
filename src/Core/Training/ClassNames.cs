using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;

namespace MLNetExtensions.Core.Training;

/// <summary>The one rule for the class names a fitted model reports (its output keys' values).</summary>
public static class ClassNames
{
    /// <summary>
    /// The label's text key values when it has exactly <paramref name="count"/> of them; otherwise the key numbers as
    /// text, "1"…"n" (so <c>MapKeyToValue</c> on the loaded model's output still works).
    /// </summary>
    public static string[] Of(DataViewSchema.Column label, int count)
    {
        if (label.HasKeyValues() && label.Annotations.Schema[ColumnNames.KeyValues].Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            label.GetKeyValues(ref names);
            var dense = names.DenseValues().Select(m => m.ToString()).ToArray();
            if (dense.Length == count) return dense;
        }
        return Enumerable.Range(1, count).Select(i => i.ToString()).ToArray();
    }
}
