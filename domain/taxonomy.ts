/**
 * SciGenBench's taxonomy (CONTRACT.md, Input): five subjects and 25 image types, each type written
 * "Subject - Type" as the benchmark's data and tables write it. The data's taxonomy wins over the
 * classifier's, which only fills what the data lacks. Pure: imported by workflow code.
 */
import type { Problem } from './types.ts';

/** The benchmark's image types, each as its full "Subject - Type" name (the string its tables group by). */
export const IMAGE_TYPES = [
  'Math - Plane Geometric',
  'Math - Solid Geometric',
  'Math - Analytic Geometry',
  'Math - Set & Probability',
  'Physics - Mechanical',
  'Physics - Field Diagram',
  'Physics - Optical Ray',
  'Physics - Waveform',
  'Physics - Circuit',
  'Physics - Astronomical',
  'Physics - Thermodynamic',
  'Chemistry - Molecular Structure',
  'Chemistry - Electron Config',
  'Chemistry - Reaction Scheme',
  'Chemistry - Orbital / Quantum',
  'Chemistry - Crystal Structure',
  'Chemistry - Spectra',
  'Biology - Genetics',
  'Biology - Cell Diagram',
  'Biology - Molecular Process',
  'Biology - Ecological',
  'Universal - Plot & Chart',
  'Universal - Table / Grid',
  'Universal - Graph & Flow',
  'Universal - Exp. Setup',
] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** The subjects, in the benchmark's order: the part of each image type before " - ". */
export const SUBJECTS = ['Math', 'Physics', 'Chemistry', 'Biology', 'Universal'] as const;
export type Subject = (typeof SUBJECTS)[number];

const SEPARATOR = ' - ';

/** A problem's subject and image type; null where unknown. `image_type` keeps the full "Subject - Type" name. */
export interface Taxonomy {
  subject: string | null;
  image_type: string | null;
}

/** What the classify step answered, kept beside the taxonomy the problem ends up with. */
export interface ClassifiedTaxonomy {
  subject: string;
  image_type: string;
}

/**
 * The taxonomy the data gives, exactly as written: `subject` and `image_type` as given, and when
 * there is no `subject`, the part of an `image_type` written "Subject - Type" before " - ". A blank
 * field counts as absent (SeePhys writes `image_type: ""`).
 */
export function givenTaxonomy(problem: Pick<Problem, 'subject' | 'image_type'>): Taxonomy {
  const imageType = present(problem.image_type);
  const subjectOfType = imageType?.includes(SEPARATOR) ? present(imageType.split(SEPARATOR)[0]) : null;
  return { subject: present(problem.subject) ?? subjectOfType, image_type: imageType };
}

/** The data's taxonomy wins; the classifier's answer fills only the fields the data lacks. */
export function settleTaxonomy(given: Taxonomy, classified: ClassifiedTaxonomy): ClassifiedTaxonomy {
  return { subject: given.subject ?? classified.subject, image_type: given.image_type ?? classified.image_type };
}

/**
 * A model's subject as the benchmark names it: case and spacing ignored, and "Mathematics" (the
 * name older prompts and answers used) read as "Math". Anything else is returned as it came.
 */
export function canonicalSubject(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const wanted = value.trim().toLowerCase();
  if (wanted === 'mathematics') return 'Math';
  return SUBJECTS.find((subject) => subject.toLowerCase() === wanted) ?? value;
}

/**
 * A model's image type as the benchmark names it: case and spacing ignored, a "Mathematics - " prefix
 * read as "Math - ", and a bare type ("Circuit") read as the one full name it ends. Anything else is
 * returned as it came.
 */
export function canonicalImageType(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const [subject = '', ...rest] = value.split('-');
  const wanted = key([canonicalSubject(subject), ...rest].join('-'));
  const full = IMAGE_TYPES.find((imageType) => key(imageType) === wanted);
  if (full !== undefined) return full;
  const bare = IMAGE_TYPES.filter(
    (imageType) => key(imageType.slice(imageType.indexOf(SEPARATOR) + SEPARATOR.length)) === wanted,
  );
  return bare.length === 1 ? bare[0] : value;
}

/** Compares names with case and whitespace ignored. */
function key(text: unknown): string {
  return String(text).toLowerCase().replace(/\s+/g, '');
}

function present(text: string | undefined): string | null {
  return text === undefined || text.trim() === '' ? null : text;
}
