namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>What a fitted GeminiFusion model does when a modality's column is absent from the data it scores.</summary>
public enum MissingModalityPolicy
{
    /// <summary>Refuse, naming the column and this option (default).</summary>
    Error,
    /// <summary>Serve with that modality's input all zeros (the raw column value 0, then the column's own normalisation).</summary>
    Zeros,
}
