/**
 * The part of ml-hclust 4 (ES module with its own types under `exports`) that ticketflow uses. Our tsconfig
 * resolves modules the classic way, which ignores `exports`, so the package's own declarations are not found;
 * these mirror node_modules/ml-hclust/lib/{agnes,cluster}.d.ts.
 */
declare module 'ml-hclust' {
  export class Cluster {
    children: Cluster[];
    height: number;
    size: number;
    index: number;
    isLeaf: boolean;
    /** The subtrees whose height is at most `threshold`. */
    cut(threshold: number): Cluster[];
    /** Indices of the leaves under this node. */
    indices(): number[];
  }
  export type AgglomerationMethod =
    | 'single'
    | 'complete'
    | 'average'
    | 'upgma'
    | 'wpgma'
    | 'median'
    | 'wpgmc'
    | 'centroid'
    | 'upgmc'
    | 'ward'
    | 'ward2';
  export interface AgnesOptions<T> {
    distanceFunction?: (a: T, b: T) => number;
    method?: AgglomerationMethod;
    isDistanceMatrix?: boolean;
  }
  export function agnes<T>(data: T[], options?: AgnesOptions<T>): Cluster;
}
