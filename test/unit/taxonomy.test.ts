import { describe, expect, it } from 'vitest';
import {
  canonicalImageType,
  canonicalSubject,
  givenTaxonomy,
  IMAGE_TYPES,
  settleTaxonomy,
  SUBJECTS,
} from '../../domain/taxonomy.ts';

const classified = { subject: 'Physics', image_type: 'Physics - Optical Ray' };

describe('the taxonomy', () => {
  it('has 25 image types, each named "Subject - Type" after one of the 5 subjects', () => {
    expect(IMAGE_TYPES).toHaveLength(25);
    expect(new Set(IMAGE_TYPES.map((imageType) => imageType.split(' - ')[0]))).toEqual(new Set(SUBJECTS));
  });
});

describe('givenTaxonomy', () => {
  it('reads the subject from an image type written "Subject - Type" and keeps the type whole', () => {
    expect(givenTaxonomy({ image_type: 'Physics - Astronomical' })).toEqual({
      subject: 'Physics',
      image_type: 'Physics - Astronomical',
    });
    expect(givenTaxonomy({ image_type: 'Chemistry - Orbital / Quantum' }).subject).toBe('Chemistry');
  });

  it('uses subject and image type given separately as written, even when they disagree', () => {
    expect(givenTaxonomy({ subject: 'Mathematics', image_type: 'Physics - Waveform' })).toEqual({
      subject: 'Mathematics',
      image_type: 'Physics - Waveform',
    });
    expect(givenTaxonomy({ image_type: 'Mechanics' })).toEqual({ subject: null, image_type: 'Mechanics' });
    expect(givenTaxonomy({ subject: 'Biology' })).toEqual({ subject: 'Biology', image_type: null });
  });

  it('counts a blank field as absent (SeePhys writes image_type "")', () => {
    expect(givenTaxonomy({ subject: ' ', image_type: '' })).toEqual({ subject: null, image_type: null });
    expect(givenTaxonomy({})).toEqual({ subject: null, image_type: null });
  });
});

describe('settleTaxonomy', () => {
  it("keeps the data's taxonomy over the classifier's", () => {
    expect(settleTaxonomy({ subject: 'Physics', image_type: 'Physics - Astronomical' }, classified)).toEqual({
      subject: 'Physics',
      image_type: 'Physics - Astronomical',
    });
  });

  it('fills only the fields the data lacks', () => {
    expect(settleTaxonomy({ subject: 'Chemistry', image_type: null }, classified)).toEqual({
      subject: 'Chemistry',
      image_type: 'Physics - Optical Ray',
    });
    expect(settleTaxonomy({ subject: null, image_type: 'Mechanics' }, classified)).toEqual({
      subject: 'Physics',
      image_type: 'Mechanics',
    });
    expect(settleTaxonomy({ subject: null, image_type: null }, classified)).toEqual(classified);
  });
});

describe('canonical names of a model answer', () => {
  it('reads "Mathematics" as "Math" and ignores case and spacing', () => {
    expect(canonicalSubject('Mathematics')).toBe('Math');
    expect(canonicalSubject(' physics ')).toBe('Physics');
    expect(canonicalSubject('Astrology')).toBe('Astrology');
    expect(canonicalImageType('Mathematics - Plane Geometric')).toBe('Math - Plane Geometric');
    expect(canonicalImageType('universal-table / grid')).toBe('Universal - Table / Grid');
  });

  it('reads a bare type as the one full name it ends, and leaves anything else as it came', () => {
    expect(canonicalImageType('Circuit')).toBe('Physics - Circuit');
    expect(canonicalImageType('exp. setup')).toBe('Universal - Exp. Setup');
    expect(canonicalImageType('Function Plot')).toBe('Function Plot');
    expect(canonicalImageType(3)).toBe(3);
  });
});
